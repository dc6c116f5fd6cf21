"""Decode FLAC frames from any point of a stream, with libFLAC's stream decoder (via ctypes).

libsndfile (soundfile) always seeks to sample 0 before its first read, which a stream that starts
mid-song (its header spliced onto the frames around a seek target, see `app.flac`) does not have.
libFLAC's plain stream decoder just decodes the frames it is given and reports where each one
belongs, which is all progressive streaming needs. libFLAC ships with libsndfile, so this adds no
dependency. Samples are scaled exactly as libsndfile scales them, so both paths agree bit for bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_lib_name = ctypes.util.find_library("FLAC") or "libFLAC.so.12"
_lib = ctypes.CDLL(_lib_name)

_READ = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_ubyte),
    ctypes.POINTER(ctypes.c_size_t),
    ctypes.c_void_p,
)
_WRITE = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)),
    ctypes.c_void_p,
)
_ERROR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)

_lib.FLAC__stream_decoder_new.restype = ctypes.c_void_p
_lib.FLAC__stream_decoder_init_stream.argtypes = [
    ctypes.c_void_p,
    _READ,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    _WRITE,
    ctypes.c_void_p,
    _ERROR,
    ctypes.c_void_p,
]
for _name in ("process_single", "finish", "delete", "get_state"):
    getattr(_lib, f"FLAC__stream_decoder_{_name}").argtypes = [ctypes.c_void_p]

_READ_CONTINUE, _READ_END = 0, 1
_END_OF_STREAM, _ABORTED = 4, 7


class _FrameHeader(ctypes.Structure):
    _fields_ = [  # FLAC__FrameHeader, as laid out by libFLAC 1.3/1.4
        ("blocksize", ctypes.c_uint),
        ("sample_rate", ctypes.c_uint),
        ("channels", ctypes.c_uint),
        ("channel_assignment", ctypes.c_int),
        ("bits_per_sample", ctypes.c_uint),
        ("number_type", ctypes.c_int),
        ("number", ctypes.c_uint64),
    ]


class FlacStreamDecoder:
    """Feed it bytes (a header, then frames from anywhere); it yields (first sample, audio)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._frames: list[tuple[int, np.ndarray]] = []
        self._failed = False
        # NB: keep the callbacks referenced for the decoder's lifetime.
        self._read_cb = _READ(self._on_read)
        self._write_cb = _WRITE(self._on_write)
        self._error_cb = _ERROR(self._on_error)
        self._dec = _lib.FLAC__stream_decoder_new()
        status = _lib.FLAC__stream_decoder_init_stream(
            self._dec,
            self._read_cb,
            None,
            None,
            None,
            None,
            self._write_cb,
            None,
            self._error_cb,
            None,
        )
        if status != 0:
            self.close()
            raise RuntimeError(f"libFLAC could not start a decoder (status {status})")

    def _on_read(self, _dec, buffer, size_p, _client) -> int:
        n = min(size_p[0], len(self._data) - self._pos)
        if n <= 0:
            size_p[0] = 0
            return _READ_END
        ctypes.memmove(buffer, bytes(self._data[self._pos : self._pos + n]), n)
        self._pos += n
        size_p[0] = n
        return _READ_CONTINUE

    def _on_write(self, _dec, frame_p, buffers, _client) -> int:
        header = ctypes.cast(frame_p, ctypes.POINTER(_FrameHeader)).contents
        n, channels = header.blocksize, header.channels
        first = header.number if header.number_type == 1 else header.number * n
        audio = np.empty((n, channels), dtype=np.float32)
        scale = 1.0 / (1 << (header.bits_per_sample - 1))
        for ch in range(channels):
            samples = np.ctypeslib.as_array(buffers[ch], shape=(n,))
            audio[:, ch] = samples * scale
        self._frames.append((int(first), audio))
        return 0

    def _on_error(self, _dec, _status, _client) -> None:
        # Lost sync or a CRC mismatch inside the bytes is damage; at their end it is only the
        # window stopping mid-frame (the caller starts a new window there).
        if self._pos < len(self._data):
            self._failed = True

    def frames(self):
        """Decoded frames in stream order: (first sample, (n, channels) float32)."""
        while True:
            if not _lib.FLAC__stream_decoder_process_single(self._dec):
                break
            while self._frames:
                yield self._frames.pop(0)
            if self._failed:
                raise ValueError("The FLAC stream is damaged (a frame failed its checksum).")
            if _lib.FLAC__stream_decoder_get_state(self._dec) in (_END_OF_STREAM, _ABORTED):
                break
        yield from self._frames
        self._frames.clear()

    def close(self) -> None:
        if self._dec:
            _lib.FLAC__stream_decoder_finish(self._dec)
            _lib.FLAC__stream_decoder_delete(self._dec)
            self._dec = None

    def __del__(self) -> None:
        self.close()
