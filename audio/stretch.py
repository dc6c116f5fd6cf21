"""Tempo change with key lock, and key shift: Signalsmith Stretch, one continuous stream per stem.

One stretcher, one way of driving it, live and offline: `StemStream` is the whole algorithm
(how a stem's stream is fed to Signalsmith Stretch, in which pieces, and which output frames
are kept). The offline render (`stretch_stems`: the client's preview render and the platform's
published render) runs it over each whole stem from frame 0; the live preview
(audio/livestretch.py) runs the very same `StemStream` from wherever playback starts. So a live
play from the start of the piece, with the tempo and key set before it, feeds the mix kernel the
same samples as the publication, bit for bit (tests/test_livestretch.py); what differs after a
seek or a live change is said in docs/remix-format.md ("Tempo and key").

Why Signalsmith Stretch (chosen by benchmarks/stretch.py against Rubber Band R2, R3 standard and
R3 short window; figures in benchmarks/README.md): it keeps a click's energy together (0.7-0.8
of it within +-1 ms, R3 short window 0.36), the pitch within a cent, and costs about half of the
tuned R3's CPU; its licence is MIT (Rubber Band is GPL). It is vendored (audio/signalsmith/, the
commit python-stretch 0.3.1 builds) behind a small streaming C interface (shim.cpp), because
python-stretch only stretches a whole buffer and then resets: a live worker could only stretch
independent pieces, whose phases disagree at every join.

Why per stem, before the strip: a fan's EQ, filters and sends mean the same frequencies and the
same beats at any tempo/key, and the -1 dBTP limiter sees the final signal. One stretcher per
stem (two channels) rather than one over all stems: Signalsmith finds spectral peaks over all
its channels together, so a stem's sound must not depend on which other stems share it; with a
fixed analysis hop no stem can drift from another either.

The stream, for a stem read from input frame `a` at tempo `r` (1.25 = 25 % faster) and key `k`:

* `seek` with the `preroll` frames before `a + input_latency` (zeros before the track's start);
* then `process` calls of exactly `CHUNK` input frames from `a + input_latency` on (zeros past
  the end), call i giving round((i+1)·CHUNK/r) - round(i·CHUNK/r) output frames: the chunk grid
  and this rounding are part of the result, so live and offline use the same;
* the first `output_latency` output frames are dropped; output frame j is then the stretch of
  input frame a + j·r.

Determinism: a fixed seed (Signalsmith randomises phases only beyond a 2x stretch), one stem per
stretcher and no shared state, so the result is the same for any number of worker threads and on
any machine running the same build of the library and of the C maths library.
"""

from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np

CHUNK = 1024
"""Input frames per `process` call, live and offline (part of the result: see above). 21 ms at
48 kHz: small enough for the live worker's 0.12 s lead, big enough that the per-call cost is
a few per cent offline."""

SEED = 1
"""Signalsmith's random phases (beyond a 2x stretch) start from this seed in every stream."""

WORKERS: int | None = None
"""Threads for `stretch_stems` (None: one per core). Does not change the result."""


def is_identity(tempo_ratio: float, key_shift: int) -> bool:
    return float(tempo_ratio) == 1.0 and int(key_shift) == 0


def stretched_length(n_frames: int, tempo_ratio: float) -> int:
    """Frames of a stem of `n_frames` played at `tempo_ratio` (1.25 = 25 % faster)."""
    return max(1, round(n_frames / float(tempo_ratio)))


def pitch_scale(key_shift: int) -> float:
    """Frequency factor of a shift by `key_shift` equal-tempered semitones."""
    return float(2.0 ** (int(key_shift) / 12.0))


class LibraryMissing(RuntimeError):
    """The compiled stretcher (audio._signalsmith) is not built."""


def require_library() -> None:
    """Raise LibraryMissing (which says how to build it) unless the stretcher is usable."""
    _lib()


@cache
def _lib() -> ctypes.CDLL:
    """The vendored Signalsmith Stretch, built as the extension module audio._signalsmith
    (pyproject.toml); its C functions are called through ctypes (which drops the GIL)."""
    try:
        from audio import _signalsmith
    except ImportError as exc:
        raise LibraryMissing(
            "the time stretcher audio._signalsmith is not built: run `make bootstrap` "
            "(or `pip install -e .`; it needs g++ and the Python headers)"
        ) from exc
    return load_library(str(_signalsmith.__file__))


def load_library(path: str) -> ctypes.CDLL:
    """The C interface of shim.cpp in the shared library at `path`, typed for ctypes."""
    lib = ctypes.CDLL(path)
    vp, i, lg, ll, d = (
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_longlong,
        ctypes.c_double,
    )
    sigs: dict[str, tuple[list, Any]] = {
        "create": ([i, d, lg], vp),
        "destroy": ([vp], None),
        "chunk": ([], i),
        "input_latency": ([vp], i),
        "preroll": ([vp], i),
        "start": ([vp, d, d, vp, i, lg], None),
        "max_output": ([vp], ll),
        "feed": ([vp, vp, lg, vp, lg], ll),
        "whole": ([vp, d, d, vp, lg, lg, vp, lg, lg], None),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, f"encore_ss_{name}")
        fn.argtypes, fn.restype = args, res
    if lib.encore_ss_chunk() != CHUNK:
        raise LibraryMissing(f"{path} was built for another CHUNK: rebuild it (pip install -e .)")
    return lib


def _rows(x: np.ndarray) -> tuple[int, int]:
    """(address, row stride in floats) of a (C, n) float32 array with contiguous rows."""
    if x.dtype != np.float32 or x.ndim != 2 or (x.shape[1] > 1 and x.strides[1] != 4):
        raise ValueError("expected (channels, frames) float32 with contiguous rows")
    return x.ctypes.data, x.strides[0] // 4


class StemStream:
    """One stem's stretch as a stream (see the module docstring): `start` at an input frame,
    then `feed` CHUNK input frames at a time; every call returns the output frames it made.
    Not thread-safe: one owner thread at a time."""

    def __init__(self, sample_rate: int, channels: int = 2) -> None:
        self._lib = _lib()
        self.channels = int(channels)
        self.sample_rate = int(sample_rate)
        self._h = self._lib.encore_ss_create(self.channels, float(sample_rate), SEED)
        if not self._h:
            raise MemoryError("could not create the time stretcher")
        self.input_latency = int(self._lib.encore_ss_input_latency(self._h))
        pre = int(self._lib.encore_ss_preroll(self._h))
        self.preroll = -(-pre // CHUNK) * CHUNK
        """Frames `start` wants before `input_start(anchor)` (a multiple of CHUNK)."""
        self._out = np.zeros((self.channels, 0), dtype=np.float32)

    def input_start(self, anchor: int) -> int:
        """The input frame the first `feed` reads, for a stream whose output frame 0 is input
        frame `anchor`: the stretcher looks `input_latency` ahead."""
        return int(anchor) + self.input_latency

    def start(self, tempo_ratio: float, key_shift: int, preroll: np.ndarray) -> None:
        """A fresh stream (any earlier state dropped): `preroll` is (channels, self.preroll),
        the input frames just before `input_start(anchor)`."""
        if preroll.shape != (self.channels, self.preroll):
            raise ValueError(f"preroll must be {(self.channels, self.preroll)}")
        addr, stride = _rows(preroll)
        self._lib.encore_ss_start(
            self._h, float(tempo_ratio), pitch_scale(key_shift), addr, self.preroll, stride
        )
        most = int(self._lib.encore_ss_max_output(self._h))
        if self._out.shape[1] < most:
            self._out = np.zeros((self.channels, most), dtype=np.float32)

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        """Stretch the next CHUNK input frames, (channels, CHUNK) float32 with contiguous rows;
        returns a view of the output frames made (valid until the next call; may be empty)."""
        if chunk.shape != (self.channels, CHUNK):
            raise ValueError(f"feed takes ({self.channels}, {CHUNK}) frames")
        addr, stride = _rows(chunk)
        out = self._out
        n = self._lib.encore_ss_feed(self._h, addr, stride, out.ctypes.data, out.shape[1])
        return out[:, :n]

    def whole(self, x: np.ndarray, time_factor: float, transpose: float, n_out: int) -> np.ndarray:
        """Signalsmith's whole-buffer use as python-stretch 0.3.1 makes it, without its final
        flush (tests compare this build with that wheel)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.zeros((self.channels, n_out), dtype=np.float32)
        self._lib.encore_ss_whole(
            self._h,
            time_factor,
            transpose,
            x.ctypes.data,
            x.shape[1],
            x.shape[1],
            out.ctypes.data,
            n_out,
            n_out,
        )
        return out

    def close(self) -> None:
        if self._h:
            self._lib.encore_ss_destroy(self._h)
            self._h = None

    def __del__(self) -> None:
        self.close()


def stretch_stem(
    stem: np.ndarray,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    out: np.ndarray,
    stream: StemStream | None = None,
) -> None:
    """Stretch one (2, N) float32 stem from its frame 0 into `out` (2, stretched_length(N)).

    A stem of exact zeros stays zeros without being stretched (Signalsmith's output for zeros
    is zeros: tested)."""
    n, m = stem.shape[1], out.shape[1]
    if not stem.any():
        out.fill(0.0)
        return
    st = stream or StemStream(sample_rate, stem.shape[0])
    pre = np.zeros((st.channels, st.preroll), dtype=np.float32)
    a = st.input_start(0)
    lo = max(0, a - st.preroll)
    pre[:, st.preroll - (a - lo) :] = stem[:, lo:a]
    st.start(tempo_ratio, key_shift, pre)
    pos, w = a, 0
    pad = np.zeros((st.channels, CHUNK), dtype=np.float32)
    while w < m:
        if pos + CHUNK <= n:
            chunk = stem[:, pos : pos + CHUNK]  # rows contiguous: no copy
        else:
            pad.fill(0.0)
            if pos < n:
                pad[:, : n - pos] = stem[:, pos:n]
            chunk = pad
        got = st.feed(chunk)
        pos += CHUNK
        take = min(got.shape[1], m - w)
        out[:, w : w + take] = got[:, :take]
        w += take
    if stream is None:
        st.close()


def stretch_stems(
    stems: np.ndarray,
    sample_rate: int,
    tempo_ratio: float,
    key_shift: int,
    audible: np.ndarray | None = None,
    *,
    workers: int | None = None,
) -> np.ndarray:
    """(S, 2, N) float32 -> (S, 2, round(N / tempo_ratio)) float32 at the new tempo and key.

    Stems with `audible[s]` False come back as silence without being stretched (the mix never
    hears them). Identity (1.0, 0) returns `stems` itself. The stems run on `workers` threads
    (None: WORKERS, else one per core); the result does not depend on it."""
    if is_identity(tempo_ratio, key_shift):
        return stems
    stems = np.asarray(stems, dtype=np.float32)
    n_stems, _, n = stems.shape
    out = np.zeros((n_stems, 2, stretched_length(n, tempo_ratio)), dtype=np.float32)
    jobs = [s for s in range(n_stems) if audible is None or bool(audible[s])]

    def run(s: int) -> None:
        stretch_stem(stems[s], sample_rate, tempo_ratio, key_shift, out[s])

    n_workers = min(len(jobs), workers or WORKERS or os.cpu_count() or 1)
    if n_workers <= 1:
        for s in jobs:
            run(s)
    else:
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="stretch") as pool:
            for f in [pool.submit(run, s) for s in jobs]:
                f.result()
    return out
