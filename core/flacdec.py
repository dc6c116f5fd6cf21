"""The system's libFLAC (via ctypes), decoding without the GIL: the one binding of it.

Two decoders share the library loading, the function typing and the callbacks:

* `FlacStreamDecoder` decodes FLAC frames from bytes in memory, for progressive streaming
  (`app.streaming`). libsndfile (soundfile) always seeks to sample 0 before its first read,
  which a stream that starts mid-song (its header spliced onto the frames around a seek target,
  see `app.flac`) does not have. libFLAC's plain stream decoder just decodes the frames it is
  given and reports where each one belongs, which is all progressive streaming needs.
* `FlacFileDecoder` decodes a FLAC file from any frame on, for the platform's renders
  (`server.stemsource`).

libFLAC ships with libsndfile, so this adds no dependency (`libflac()` is None on a system
without it: the platform then decodes with libsndfile; the client needs it). Every callback
libFLAC makes (read, write, error) is a compiled numba `cfunc` and the decoding loops are
`nogil` functions, so decoding never takes the GIL: the audio callback, which needs it, is not
held up by a decode running in another thread. The callbacks talk to Python through one numpy
"arena" per decoder (libFLAC's client data): a few int64 state slots, a stage the write callback
copies each decoded block into, and, for a stream decoder, the bytes it reads.

Samples are scaled exactly as libsndfile scales them (integer / 2**(bits - 1)), so both paths
agree bit for bit (tests/test_flac.py, tests/test_stemsource.py). A damaged frame (lost sync, a
bad header, a CRC mismatch, for which libFLAC would deliver the frame as silence) stops the
decode with an error: it is never played.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from audio.compiled import callback, carray, kernel, types

# The arena: _STATE int64 slots, then the stage (int32: _CAP frames per channel, channel after
# channel), then (a stream decoder) the bytes to decode.
_STATE = 16
_HELD, _CHANNELS, _BITS, _ERROR, _TAKEN, _ROOM, _FIRST, _POS, _END, _STRICT = range(10)
# _HELD frames staged, _CHANNELS and _BITS theirs, _ERROR 0 or 100 + libFLAC's error status
# (1: a block the stage cannot hold), _TAKEN staged frames already delivered, _ROOM channels the
# stage holds, _FIRST the staged block's first sample, _POS/_END the arena byte offsets of the
# next byte to read and of the end of the bytes, _STRICT 1: every error is damage (0: an error
# once all the bytes are read is only a window stopping mid-frame, see _on_error).
_STAGE = 2 * _STATE  # int32 index of the stage in the arena
_CAP = 1 << 16  # frames per channel the stage holds: FLAC blocks are at most 65535 frames
_READ_CONTINUE, _READ_END = 0, 1  # FLAC__StreamDecoderReadStatus
_WRITE_CONTINUE, _WRITE_ABORT = 0, 1  # FLAC__StreamDecoderWriteStatus
_CRC_MISMATCH = 2  # FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH
_END_OF_STREAM, _ABORTED = 4, 7  # FLAC__StreamDecoderState
_SAMPLE_NUMBER = 1  # FLAC__FRAME_NUMBER_TYPE_SAMPLE_NUMBER


@callback(
    types.int32(
        types.voidptr, types.CPointer(types.uint8), types.CPointer(types.uintp), types.voidptr
    ),
)
def _on_read(_decoder, buffer, size, arena):  # pragma: no cover - called by libFLAC
    """libFLAC's read callback (stream decoders): the next bytes of the arena's data."""
    state = carray(arena, _STATE, np.int64)
    pos, end = state[_POS], state[_END]
    n = min(np.int64(size[0]), end - pos)
    if n <= 0:
        size[0] = 0
        return _READ_END
    data = carray(arena, end, np.uint8)
    for i in range(n):
        buffer[i] = data[pos + i]
    state[_POS] = pos + n
    size[0] = n
    return _READ_CONTINUE


@callback(
    types.int32(
        types.voidptr,
        types.voidptr,  # FLAC__Frame, starting with its FLAC__FrameHeader
        types.CPointer(types.CPointer(types.int32)),
        types.voidptr,
    ),
)
def _on_write(_decoder, frame, buffer, arena):  # pragma: no cover - called by libFLAC
    """libFLAC's write callback: the decoded block into the stage, channel after channel."""
    state = carray(arena, _STATE, np.int64)
    if state[_ERROR] != 0:  # e.g. a CRC mismatch, which libFLAC delivers as silence
        return _WRITE_ABORT
    # FLAC__FrameHeader: blocksize, sample_rate, channels, channel_assignment, bits_per_sample,
    # number_type (uint32 each), then the frame/sample number (uint64, at byte 24).
    header = carray(frame, 6, np.uint32)
    number = carray(frame, 4, np.uint64)[3]
    n, channels = np.int64(header[0]), np.int64(header[2])
    if n > _CAP or channels > state[_ROOM]:
        state[_ERROR] = 1
        return _WRITE_ABORT
    stage = carray(arena, _STAGE + channels * _CAP, np.int32)
    for c in range(channels):
        src = buffer[c]
        base = _STAGE + c * _CAP
        for i in range(n):
            stage[base + i] = src[i]
    first = number if header[5] == _SAMPLE_NUMBER else number * np.uint64(n)
    state[_HELD], state[_CHANNELS], state[_BITS] = n, channels, np.int64(header[4])
    state[_TAKEN], state[_FIRST] = 0, np.int64(first)
    return _WRITE_CONTINUE


@callback(types.void(types.voidptr, types.int32, types.voidptr))
def _on_error(_decoder, status, arena):  # pragma: no cover - called by libFLAC
    """libFLAC's error callback: lost sync, a bad header, a CRC mismatch... are damage. Only a
    stream decoder's error once all its bytes are read is not (the window stopped mid-frame:
    the caller starts a new window there); a CRC mismatch is damage wherever it is."""
    state = carray(arena, _STATE, np.int64)
    if state[_STRICT] != 0 or status == _CRC_MISMATCH or state[_POS] < state[_END]:
        state[_ERROR] = 100 + status


@kernel(nogil=True)
def _next_block(process_single, get_state, decoder, state):  # pragma: no cover - compiled
    """Stage the next block if none is: 1 one is, 0 the stream ended, -1 a decoding error."""
    while state[_HELD] - state[_TAKEN] <= 0:
        state[_HELD] = 0
        state[_TAKEN] = 0
        ok = process_single(decoder)
        if state[_ERROR] != 0:
            return -1
        if not ok:
            return 0  # aborted or out of memory: no more frames (there was no damage)
        if state[_HELD] == 0 and get_state(decoder) in (_END_OF_STREAM, _ABORTED):
            return 0
    return 1


@kernel(nogil=True)
def _read_planar(process_single, get_state, decoder, state, stage, out, length):  # pragma: no cover
    """Decode the next `length` frames into out[0], out[1] (float32, a mono stem on both):
    the frames written (fewer at the end of the stream), or -1 on a decoding error."""
    filled = 0
    while filled < length:
        got = _next_block(process_single, get_state, decoder, state)
        if got < 0:
            return -1
        if got == 0:
            break
        scale = np.float32(1.0 / (1 << (state[_BITS] - 1)))
        first = state[_TAKEN]
        take = min(state[_HELD] - first, length - filled)
        for c in range(2):
            base = (c if state[_CHANNELS] > 1 else 0) * _CAP + first
            row = out[c]
            for i in range(take):
                row[filled + i] = np.float32(stage[base + i]) * scale
        state[_TAKEN] = first + take
        filled += take
    return filled


@kernel(nogil=True)
def _read_blocks(process_single, get_state, decoder, state, stage, out, table):  # pragma: no cover
    """Decode whole blocks into out's rows ((frames, channels) float32) while they fit, one row
    of `table` (first sample, first row, frames) each: (blocks decoded, status), status 1 more
    to come (a block that did not fit stays staged), 0 the stream ended, -1 a decoding error."""
    count = 0
    filled = 0
    while count < table.shape[0]:
        got = _next_block(process_single, get_state, decoder, state)
        if got <= 0:
            return count, got
        n, channels = state[_HELD], state[_CHANNELS]
        if filled + n > out.shape[0] or channels > out.shape[1]:
            return count, 1
        scale = np.float32(1.0 / (1 << (state[_BITS] - 1)))
        for c in range(channels):
            base = c * _CAP
            for i in range(n):
                out[filled + i, c] = np.float32(stage[base + i]) * scale
        table[count, 0] = state[_FIRST]
        table[count, 1] = filled
        table[count, 2] = n
        state[_TAKEN] = n
        filled += n
        count += 1
    return count, 1


@functools.cache
def libflac() -> SimpleNamespace | None:
    """The system's libFLAC with the few functions used typed, or None if there is none."""
    lib = None
    for name in (ctypes.util.find_library("FLAC"), "libFLAC.so.12", "libFLAC.so.8"):
        if name is None:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return None
    ptr, i32, u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "new": (ptr, []),
        "delete": (None, [ptr]),
        "finish": (i32, [ptr]),
        "init_stream": (i32, [ptr] + [ptr] * 9),
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


def _require() -> SimpleNamespace:
    flac = libflac()
    if flac is None:
        raise OSError("libFLAC is not installed (it comes with libsndfile)")
    return flac


class _Decoder:
    """A libFLAC decoder and its arena: `extra` bytes after the stage, for the caller."""

    def __init__(self, channels: int, extra: int = 0) -> None:
        self._decoder = None
        self._flac = _require()
        data_at = 8 * _STATE + 4 * channels * _CAP
        self._arena = np.empty(-(-(data_at + extra) // 8), dtype=np.int64)  # 8-byte aligned
        self._state = self._arena[:_STATE]
        self._state[:] = 0
        self._stage = self._arena[_STATE : data_at // 8].view(np.int32)
        self._bytes = self._arena.view(np.uint8)[data_at : data_at + extra]
        self._state[_ROOM] = channels
        self._state[_POS] = self._state[_END] = data_at
        self._decoder = self._flac.new()
        if not self._decoder:
            raise MemoryError("libFLAC could not allocate a decoder")

    @property
    def _client(self) -> int:
        return self._arena.ctypes.data

    def close(self) -> None:
        if self._decoder:
            self._flac.finish(self._decoder)
            self._flac.delete(self._decoder)
            self._decoder = None

    def __del__(self) -> None:
        self.close()


def _streaminfo_channels(data: bytes) -> int:
    """The channel count in a stream's STREAMINFO (8, FLAC's most, if it has none)."""
    if len(data) >= 8 + 13 and data[:4] == b"fLaC" and data[4] & 0x7F == 0:
        return ((data[8 + 12] >> 1) & 0x07) + 1
    return 8


class FlacStreamDecoder(_Decoder):
    """Feed it bytes (a header, then frames from anywhere); it yields (first sample, audio).

    `batch`: frames decoded per call into libFLAC (at least one block's worth are), the only
    points where the decode takes the GIL, to hand the blocks over."""

    def __init__(self, data: bytes, batch: int = 1 << 15) -> None:
        super().__init__(_streaminfo_channels(data), len(data))
        self._bytes[:] = np.frombuffer(data, dtype=np.uint8)
        self._state[_END] = self._state[_POS] + len(data)
        self._batch = batch
        self._data_at = int(self._state[_POS])
        status = self._flac.init_stream(
            self._decoder,
            _on_read.address,
            None,
            None,
            None,
            None,
            _on_write.address,
            None,
            _on_error.address,
            self._client,
        )
        if status != 0:
            self.close()
            raise RuntimeError(f"libFLAC could not start a decoder (status {status})")

    @property
    def bytes_read(self) -> int:
        """How many of the bytes libFLAC has read so far."""
        return int(self._state[_POS]) - self._data_at

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Decoded frames in stream order: (first sample, (n, channels) float32)."""
        flac, state = self._flac, self._state
        table = np.empty((256, 3), dtype=np.int64)
        while self._decoder:
            rows = max(self._batch, int(state[_HELD]))  # a staged block always fits
            out = np.empty((rows, int(self._state[_ROOM])), dtype=np.float32)
            count, status = _read_blocks(
                flac.process_single, flac.get_state, self._decoder, state, self._stage, out, table
            )
            blocks = table[:count].tolist()
            for first, row, n in blocks:
                yield first, out[row : row + n, : int(state[_CHANNELS])]
            if status < 0:
                raise ValueError("The FLAC stream is damaged (a frame failed its checksum).")
            if status == 0:
                return


class FlacFileDecoder(_Decoder):
    """One FLAC file: `read` decodes frames [start, start + n) into a (2, n) float32 view (a
    mono file on both rows), seeking only when `start` is not where the last read ended."""

    def __init__(self, path: Path | str, channels: int) -> None:
        super().__init__(channels)
        self._state[_STRICT] = 1
        status = self._flac.init_file(
            self._decoder,
            str(path).encode(),
            _on_write.address,
            None,
            _on_error.address,
            self._client,
        )
        if status != 0:
            self.close()
            raise OSError(f"libFLAC could not open {path} (status {status})")
        self._pos = 0  # the frame the decoder delivers next

    def read(self, start: int, out: np.ndarray) -> int:
        flac, state = self._flac, self._state
        if start != self._pos:
            state[:_ROOM] = 0  # nothing staged, no error
            if not flac.seek_absolute(self._decoder, start) or state[_ERROR] != 0:
                raise OSError(f"libFLAC could not seek to frame {start}")
            self._pos = start  # the block holding `start` is staged from that frame on
        got = _read_planar(
            flac.process_single,
            flac.get_state,
            self._decoder,
            state,
            self._stage,
            out,
            out.shape[1],
        )
        if got < 0:
            at, self._pos = self._pos, -1  # where the decoder stopped is unknown: next read seeks
            raise OSError(f"libFLAC failed to decode near frame {at} (code {state[_ERROR]})")
        self._pos += got
        return got
