"""Stems decoded from their stored FLAC files a window at a time, for the platform's renders.

Loading every stem whole costs 8 bytes per stereo frame per stem (≈ 140 MB for a 72 s,
5-stem track; over 1 GB for 6 minutes of 8 stems), per render. `DecodingSource` is an
`audio.source.BlockSource` that keeps one window per stem instead and refills it with a
seek + read when the renderer moves past it, so memory no longer grows with the track's length
or its stem count beyond a few MB. FLAC is lossless and libsndfile seeks sample-accurately, so
the frames are exactly those a whole-file read gives: the render stays sample-identical.

FLAC stems of 16 or 24 bits are decoded by libFLAC itself when the system has it (found with
ctypes; `fast_flac=False` or no libFLAC: libsndfile for every stem): a compiled loop calls the
decoder and converts its integers straight into the window, with no GIL held and no
intermediate copy, at about 60 % of libsndfile's CPU time. The samples are the same bits
(integer / 2**(bits - 1), as libsndfile scales them); tests/test_stemsource.py compares the two.

Offline only: `read` does file I/O, which the live audio callback must never do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import soundfile as sf
from numba import cfunc, njit, types

# --------------------------------------------------------------------------------------------
# libFLAC, called without the GIL
# --------------------------------------------------------------------------------------------

_HEAD = 16  # int32 slots of a stage before its samples: see _on_frame
_CAP = 1 << 16  # frames per channel a stage holds: FLAC blocks are at most 65535 frames
_END_OF_STREAM = 4  # FLAC__STREAM_DECODER_END_OF_STREAM


@cfunc(
    types.int32(
        types.voidptr,
        types.CPointer(types.uint32),  # FLAC__Frame: header.blocksize, .sample_rate, .channels..
        types.CPointer(types.CPointer(types.int32)),
        types.CPointer(types.int32),
    ),
    cache=True,
)
def _on_frame(_decoder, frame, buffer, stage):  # pragma: no cover - called by libFLAC
    """libFLAC's write callback: the decoded block into the stage, channel after channel.
    stage[0] frames held, [1] channels, [2] bits per sample, [3] error, [4] frames taken,
    [5] channels the stage has room for."""
    n, channels = frame[0], frame[2]
    if n > _CAP or channels > stage[5]:
        stage[3] = 1
        return 1  # FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
    for c in range(channels):
        src = buffer[c]
        base = _HEAD + c * _CAP
        for i in range(n):
            stage[base + i] = src[i]
    stage[0], stage[1], stage[2], stage[4] = n, channels, frame[4], 0
    return 0  # FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE


@cfunc(types.void(types.voidptr, types.int32, types.CPointer(types.int32)), cache=True)
def _on_error(_decoder, status, stage):  # pragma: no cover - called by libFLAC
    stage[3] = 100 + status  # lost sync, bad header, CRC mismatch...: the render must fail


@njit(cache=True, nogil=True)
def _flac_read(process_single, get_state, decoder, stage, out, length):  # pragma: no cover
    """Decode the next `length` frames into out[0], out[1] (float32, a mono stem on both):
    the frames written (fewer at the end of the stream), or -1 on a decoding error."""
    filled = 0
    while filled < length:
        avail = stage[0] - stage[4]
        if avail <= 0:
            stage[0] = 0
            stage[4] = 0
            if not process_single(decoder) or stage[3] != 0:
                return -1
            if stage[0] == 0 and get_state(decoder) == _END_OF_STREAM:
                break
            continue
        scale = np.float32(1.0 / (1 << (stage[2] - 1)))
        take = min(avail, length - filled)
        first = stage[4]
        for c in range(2):
            base = _HEAD + (c if stage[1] > 1 else 0) * _CAP + first
            row = out[c]
            for i in range(take):
                row[filled + i] = np.float32(stage[base + i]) * scale
        stage[4] = first + take
        filled += take
    return filled


@functools.cache
def _libflac() -> SimpleNamespace | None:
    """The system's libFLAC with the few functions used typed, or None if there is none."""
    name = ctypes.util.find_library("FLAC")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    ptr, i32, u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "new": (ptr, []),
        "delete": (None, [ptr]),
        "finish": (i32, [ptr]),
        "init_file": (i32, [ptr, ctypes.c_char_p, ptr, ptr, ptr, ptr]),
        "process_single": (i32, [ptr]),
        "get_state": (i32, [ptr]),
        "seek_absolute": (i32, [ptr, u64]),
    }
    funcs = {}
    for short, (restype, argtypes) in signatures.items():
        fn = getattr(lib, f"FLAC__stream_decoder_{short}", None)
        if fn is None:
            return None
        fn.restype, fn.argtypes = restype, argtypes
        funcs[short] = fn
    return SimpleNamespace(lib=lib, **funcs)


class _FlacStem:
    """One stem decoded by libFLAC: `read` decodes frames [start, start + n) into a (2, n)
    float32 view, seeking only when `start` is not where the last read ended."""

    def __init__(self, flac: SimpleNamespace, path: Path | str, channels: int) -> None:
        self._flac = flac
        self._stage = np.zeros(_HEAD + channels * _CAP, dtype=np.int32)  # 256 KiB a channel
        self._stage[5] = channels
        self._decoder = flac.new()
        if not self._decoder:
            raise MemoryError("libFLAC could not allocate a decoder")
        status = flac.init_file(
            self._decoder,
            str(path).encode(),
            _on_frame.address,
            None,
            _on_error.address,
            self._stage.ctypes.data,
        )
        if status != 0:
            self.close()
            raise OSError(f"libFLAC could not open {path} (status {status})")
        self._pos = 0  # the frame the decoder delivers next

    def read(self, start: int, out: np.ndarray) -> int:
        flac, stage = self._flac, self._stage
        if start != self._pos:
            stage[:5] = 0
            if not flac.seek_absolute(self._decoder, start) or stage[3] != 0:
                raise OSError(f"libFLAC could not seek to frame {start}")
            self._pos = start  # the block holding `start` is staged from that frame on
        got = _flac_read(
            flac.process_single, flac.get_state, self._decoder, stage, out, out.shape[1]
        )
        if got < 0:
            self._pos = -1  # where the decoder stopped is unknown: the next read seeks
            raise OSError(f"libFLAC failed to decode near frame {self._pos} (code {stage[3]})")
        self._pos += got
        return got

    def close(self) -> None:
        if self._decoder:
            self._flac.finish(self._decoder)
            self._flac.delete(self._decoder)
            self._decoder = None


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
        self._flac: list[_FlacStem | None] = [None] * len(self._files)
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
        flac = _libflac() if fast_flac else None
        if flac is not None:
            try:
                for i, f in enumerate(self._files):
                    if f.format == "FLAC" and f.subtype in ("PCM_16", "PCM_24"):
                        self._flac[i] = _FlacStem(flac, paths[i], f.channels)
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
