"""Where the engine's audio comes from: the block-source seam.

The engine never holds "the stems" itself; it asks a `BlockSource` for each block. A fully decoded
track is an `ArraySource`; a streaming source (decoding/downloading ahead of the playhead) can
implement the same protocol and report frames that have not arrived yet as *missing*: the engine
plays zeros for them and counts them in `Engine.missing_frames` (a miss never blocks).

Threading contract: `read` is called from the audio callback. It must take no locks, allocate no
buffers, do no I/O and not raise in normal operation (an exception there is caught by the engine,
which outputs silence and flags it).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class BlockSource(Protocol):
    n_stems: int
    n_frames: int

    def read(self, start: int, out: np.ndarray) -> int:
        """Fill out[:, :, :F] (out is (S, 2, F) float32, preallocated by the engine) with frames
        [start, start+F) of every stem; frames not available yet are zeros. Returns how many frames
        were missing (0 = all there). Called in the audio callback: no locks, no allocation, no
        I/O."""
        ...


class ArraySource:
    """A `BlockSource` over a fully decoded (S, 2, N) float32 array.

    `read` copies the requested slice; frames past the end (or before 0) are zeros. Those are not
    "missing" (the track simply has no audio there), so it always returns 0.
    """

    def __init__(self, stems: np.ndarray) -> None:
        stems = np.ascontiguousarray(stems, dtype=np.float32)
        if stems.ndim != 3 or stems.shape[1] != 2 or stems.shape[0] < 1 or stems.shape[2] < 1:
            raise ValueError(f"stems must be shaped (S, 2, N) with S, N >= 1, got {stems.shape}")
        self.stems = stems
        self.n_stems = int(stems.shape[0])
        self.n_frames = int(stems.shape[2])

    def read(self, start: int, out: np.ndarray) -> int:
        n_out = out.shape[2]
        a = max(start, 0)
        b = min(start + n_out, self.n_frames)
        if b <= a:
            out.fill(0.0)
            return 0
        lo = a - start
        hi = b - start
        if lo > 0:
            out[:, :, :lo].fill(0.0)
        np.copyto(out[:, :, lo:hi], self.stems[:, :, a:b])
        if hi < n_out:
            out[:, :, hi:].fill(0.0)
        return 0
