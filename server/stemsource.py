"""Stems decoded from their stored FLAC files a window at a time, for the platform's renders.

Loading every stem whole costs 8 bytes per stereo frame per stem (≈ 140 MB for a 72 s,
5-stem track; over 1 GB for 6 minutes of 8 stems), per render. `DecodingSource` is an
`audio.source.BlockSource` that keeps one window per stem instead and refills it with a
seek + read when the renderer moves past it, so memory no longer grows with the track's length
or its stem count beyond a few MB. FLAC is lossless and libsndfile seeks sample-accurately, so
the frames are exactly those a whole-file read gives: the render stays sample-identical.

FLAC stems of 16 or 24 bits are decoded by libFLAC itself when the system has it
(`core.flacdec.FlacFileDecoder`; `fast_flac=False` or no libFLAC: libsndfile for every stem): a
compiled loop calls the decoder and converts its integers straight into the window, with no GIL
held and no intermediate copy, at about 60 % of libsndfile's CPU time. The samples are the same
bits (integer / 2**(bits - 1), as libsndfile scales them); tests/test_stemsource.py compares
the two.

Offline only: `read` does file I/O, which the live audio callback must never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from core.flacdec import FlacFileDecoder, libflac

DEFAULT_WINDOW = 1 << 16  # frames per stem held decoded (65536: 0.5 MiB per stereo stem)


class DecodingSource:
    """A `BlockSource` over stereo or mono sound files, decoded in windows on demand.

    With `prefetch` (the default) a helper thread decodes the window after the current one
    while the renderer works through it (libFLAC and libsndfile run without the GIL, so decoding
    overlaps the render instead of adding to it). A read anywhere else (an arrangement's jump)
    waits for that thread and decodes the window it needs, so the frames are the same either
    way; two windows are held instead of one. `fast_flac`: see the module docstring.
    """

    def __init__(
        self,
        paths: Sequence[Path | str],
        window: int = DEFAULT_WINDOW,
        prefetch: bool = True,
        fast_flac: bool = True,
    ) -> None:
        if not paths:
            raise ValueError("a render needs at least one stem")
        if window < 1:
            raise ValueError("window must be >= 1 frame")
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, Future[int], np.ndarray] | None = None
        self._files = [sf.SoundFile(str(p)) for p in paths]
        self._flac: list[FlacFileDecoder | None] = [None] * len(self._files)
        rates = {f.samplerate for f in self._files}
        if len(rates) != 1:
            self.close()
            raise ValueError(f"the track's stems have different sample rates {sorted(rates)}")
        self.sample_rate = rates.pop()
        self.n_stems = len(self._files)
        self.n_frames = max(f.frames for f in self._files)
        self.window = window
        self._buf = np.zeros((self.n_stems, 2, window), dtype=np.float32)
        self._spare = np.zeros_like(self._buf)  # the window being decoded next
        self._buf_start = 0
        self._buf_len = 0  # frames of the window that are valid (0: nothing decoded yet)
        self.decoded_windows = 0  # how often a window was (re)filled: a measure of seeking
        if fast_flac and libflac() is not None:
            try:
                for i, f in enumerate(self._files):
                    if f.format == "FLAC" and f.subtype in ("PCM_16", "PCM_24"):
                        self._flac[i] = FlacFileDecoder(paths[i], f.channels)
            except BaseException:
                self.close()
                raise
        self._scratch = [  # libsndfile's interleaved frames, for the stems libFLAC does not read
            np.empty((window if fast is None else 0, f.channels), dtype=np.float32)
            for f, fast in zip(self._files, self._flac, strict=True)
        ]
        if prefetch and self.n_frames > window:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="stem-decode")

    def close(self) -> None:
        self._settle()  # a window read ahead but never needed: its errors do not matter
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for stem in self._flac:
            if stem is not None:
                stem.close()
        for f in self._files:
            f.close()

    def __enter__(self) -> DecodingSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _settle(self, wanted: int = -1) -> tuple[int, int] | None:
        """Wait for the helper thread's window: (its start, its length), or None if none was
        asked for or it failed and is not the `wanted` one (then it raises). Nothing else
        touches the files while the helper may."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        start, future, _ = ahead
        try:
            return start, future.result()
        except Exception:
            if start == wanted:
                raise
            return None

    def _decode(self, start: int, buf: np.ndarray) -> int:
        """Decode frames [start, start + window) of every stem into `buf`; the frame count."""
        length = min(self.window, self.n_frames - start)
        for i, f in enumerate(self._files):
            have = max(0, min(length, f.frames - start))
            fast = self._flac[i]
            if have and fast is not None:
                got = fast.read(start, buf[i, :, :have])
            elif have:
                if f.tell() != start:
                    f.seek(start)
                data = f.read(have, dtype="float32", always_2d=True, out=self._scratch[i][:have])
                got = data.shape[0]
                if f.channels == 1:
                    buf[i, 0, :got] = data[:, 0]
                    buf[i, 1, :got] = data[:, 0]
                else:
                    buf[i, :, :got] = data[:, :2].T
            else:
                got = 0
            buf[i, :, got:length] = 0.0  # a stem shorter than the track is silent after
        return length

    def _fill(self, start: int) -> None:
        """Make frames [start, start + window) of every stem the current window."""
        ahead = self._settle(start)
        if ahead is not None and ahead[0] == start:
            length = ahead[1]  # the helper decoded it into the spare buffer already
        else:
            length = self._decode(start, self._spare)
        self._buf, self._spare = self._spare, self._buf
        self._buf_start = start
        self._buf_len = length
        self.decoded_windows += 1
        following = start + length
        if self._pool is not None and following < self.n_frames:
            spare = self._spare
            future = self._pool.submit(self._decode, following, spare)
            self._ahead = (following, future, spare)

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
