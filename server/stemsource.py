"""Stems decoded from their stored FLAC files a window at a time, for the platform's renders.

Loading every stem whole costs 8 bytes per stereo frame per stem (≈ 140 MB for a 72 s,
5-stem track; over 1 GB for 6 minutes of 8 stems), per render. `DecodingSource` is an
`audio.source.BlockSource` that keeps one window per stem instead and refills it with a
seek + read when the renderer moves past it, so memory no longer grows with the track's length
or its stem count beyond a few MB. FLAC is lossless and libsndfile seeks sample-accurately, so
the frames are exactly those a whole-file read gives: the render stays sample-identical.

Offline only: `read` does file I/O, which the live audio callback must never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

DEFAULT_WINDOW = 1 << 16  # frames per stem held decoded (65536: 0.5 MiB per stereo stem)


class DecodingSource:
    """A `BlockSource` over stereo or mono sound files, decoded in windows on demand."""

    def __init__(self, paths: Sequence[Path | str], window: int = DEFAULT_WINDOW) -> None:
        if not paths:
            raise ValueError("a render needs at least one stem")
        if window < 1:
            raise ValueError("window must be >= 1 frame")
        self._files = [sf.SoundFile(str(p)) for p in paths]
        rates = {f.samplerate for f in self._files}
        if len(rates) != 1:
            self.close()
            raise ValueError(f"the track's stems have different sample rates {sorted(rates)}")
        self.sample_rate = rates.pop()
        self.n_stems = len(self._files)
        self.n_frames = max(f.frames for f in self._files)
        self.window = window
        self._buf = np.zeros((self.n_stems, 2, window), dtype=np.float32)
        self._scratch = [np.empty((window, f.channels), dtype=np.float32) for f in self._files]
        self._buf_start = 0
        self._buf_len = 0  # frames of the window that are valid (0: nothing decoded yet)
        self.decoded_windows = 0  # how often a window was (re)filled: a measure of seeking

    def close(self) -> None:
        for f in self._files:
            f.close()

    def __enter__(self) -> DecodingSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _fill(self, start: int) -> None:
        """Decode frames [start, start + window) of every stem into the window."""
        length = min(self.window, self.n_frames - start)
        for i, f in enumerate(self._files):
            have = max(0, min(length, f.frames - start))
            if have:
                if f.tell() != start:
                    f.seek(start)
                data = f.read(have, dtype="float32", always_2d=True, out=self._scratch[i][:have])
                got = data.shape[0]
                if f.channels == 1:
                    self._buf[i, 0, :got] = data[:, 0]
                    self._buf[i, 1, :got] = data[:, 0]
                else:
                    self._buf[i, :, :got] = data[:, :2].T
            else:
                got = 0
            self._buf[i, :, got:length] = 0.0  # a stem shorter than the track is silent after
        self._buf_start = start
        self._buf_len = length
        self.decoded_windows += 1

    def read(self, start: int, out: np.ndarray) -> int:
        n_out = out.shape[2]
        pos = 0
        while pos < n_out:
            frame = start + pos
            if frame < 0:  # before the track: silence up to frame 0
                take = min(n_out - pos, -frame)
                out[:, :, pos : pos + take].fill(0.0)
            elif frame >= self.n_frames:  # after it: silence to the end of the block
                out[:, :, pos:].fill(0.0)
                break
            else:
                if not self._buf_start <= frame < self._buf_start + self._buf_len:
                    self._fill(frame)
                offset = frame - self._buf_start
                take = min(n_out - pos, self._buf_len - offset)
                np.copyto(out[:, :, pos : pos + take], self._buf[:, :, offset : offset + take])
            pos += take
        return 0
