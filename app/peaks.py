"""A multi-resolution min/max peak cache of a track's stems, in memory only.

The timeline (ui/timeline.py) draws every stem's waveform at any zoom without touching decoded
audio on the UI thread: the decode worker (app/streaming.py) hands each chunk it decodes to `add`,
which reduces it to min/max blocks of `BASE_BLOCK` frames (both channels together) and folds
those up into coarser levels (each `FACTOR` times coarser). Drawing a column then reads the level
whose block is just finer than a pixel: a few array reductions per lane, whatever the zoom.

Nothing here is audio: peaks cannot be played back, and they are never written to disk (the
walled garden: decoded audio and everything made from it lives in memory only).

A block not decoded yet holds NaN; NaN propagates through the min/max folds, so a coarse block
is known only once all of its frames are, and the timeline draws it as loading.

Threading (NB): one writer (the decode worker) and any number of readers (the UI thread). Writes
are element stores into arrays allocated once; a reader at worst sees a chunk half-folded for one
frame and draws it on the next. `version` counts additions so a reader knows when to redraw.
"""

from __future__ import annotations

import numpy as np

from audio.chunks import CHUNK_FRAMES

BASE_BLOCK = 240
"""Frames per finest block (5 ms at 48 kHz); it divides CHUNK_FRAMES, so a chunk is whole blocks."""
FACTOR = 4
"""Each level's block spans this many blocks of the level below."""
COARSEST_BLOCKS = 64
"""Levels stop once a stem fits in this many blocks (a whole track across a narrow widget)."""


class PeakCache:
    """Min/max peaks of `n_stems` stems of `n_frames` frames each, at several resolutions.

    `level(k)` gives `(mins, maxs)`, each `(n_stems, blocks)` float32, block `j` covering frames
    `[j * block_frames(k), (j + 1) * block_frames(k))`; NaN where not decoded yet."""

    def __init__(
        self,
        n_stems: int,
        n_frames: int,
        *,
        chunk_frames: int = CHUNK_FRAMES,
        base_block: int = BASE_BLOCK,
        factor: int = FACTOR,
    ) -> None:
        if chunk_frames % base_block:
            raise ValueError("a chunk must be a whole number of peak blocks")
        self.n_stems, self.n_frames = n_stems, n_frames
        self.chunk_frames, self.base_block, self.factor = chunk_frames, base_block, factor
        self.n_chunks = -(-n_frames // chunk_frames)
        self.version = 0  # NB: bumped by the writer after each chunk; readers compare it
        self._done = np.zeros((n_stems, self.n_chunks), dtype=bool)
        counts = [-(-n_frames // base_block)]
        while counts[-1] > COARSEST_BLOCKS:
            counts.append(-(-counts[-1] // factor))
        self._counts = counts
        self._mins: list[np.ndarray] = []
        self._maxs: list[np.ndarray] = []
        for k, count in enumerate(counts):
            # Each level is padded to whole blocks of the next one; the padding is neutral
            # (+inf for a min, -inf for a max) so a short last block folds correctly.
            padded = -(-count // factor) * factor if k + 1 < len(counts) else count
            mins = np.full((n_stems, padded), np.inf, dtype=np.float32)
            maxs = np.full((n_stems, padded), -np.inf, dtype=np.float32)
            mins[:, :count] = np.nan
            maxs[:, :count] = np.nan
            self._mins.append(mins)
            self._maxs.append(maxs)

    # -- reading (any thread) --------------------------------------------------------------------

    @property
    def n_levels(self) -> int:
        return len(self._counts)

    def block_frames(self, level: int) -> int:
        return self.base_block * self.factor**level

    def level(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(mins, maxs) of level k, (n_stems, blocks): views, not copies (do not write)."""
        n = self._counts[k]
        return self._mins[k][:, :n], self._maxs[k][:, :n]

    def level_for(self, frames_per_pixel: float) -> int:
        """The coarsest level whose block is no wider than a pixel (so no detail is lost)."""
        k = 0
        while k + 1 < self.n_levels and self.block_frames(k + 1) <= frames_per_pixel:
            k += 1
        return k

    def has(self, stem: int, chunk: int) -> bool:
        return bool(self._done[stem, chunk])

    def missing(self, stem: int) -> int | None:
        """The first chunk of `stem` without peaks yet, or None when the stem is complete."""
        row = self._done[stem]
        first = int(np.argmin(row))
        return None if row[first] else first

    def fraction(self, stem: int) -> float:
        return float(self._done[stem].mean()) if self.n_chunks else 1.0

    def complete(self) -> bool:
        return bool(self._done.all())

    def columns(
        self, stem: int, edges: np.ndarray, frames_per_pixel: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mins, maxs) of the source frame ranges `[edges[i], edges[i + 1])`, one per column;
        `edges` must rise (one contiguous stretch of the track). NaN: not decoded yet."""
        k = self.level_for(frames_per_pixel)
        bf = self.block_frames(k)
        mins, maxs = self.level(k)
        n = mins.shape[1]
        edges = np.asarray(edges, dtype=np.int64)
        first = min(max(int(edges[0]) // bf, 0), n - 1)
        stop = min(n, max(-(-int(edges[-1]) // bf), first + 1))
        index = np.clip(edges[:-1] // bf - first, 0, stop - first - 1)
        lo = np.minimum.reduceat(mins[stem, first:stop], index)
        hi = np.maximum.reduceat(maxs[stem, first:stop], index)
        return lo, hi

    # -- writing (the decode worker only) --------------------------------------------------------

    def add(self, stem: int, chunk: int, audio: np.ndarray) -> None:
        """Peaks of one decoded chunk of one stem: `audio` is (channels, frames), the chunk's
        frames from its start (the last chunk may be short). Called by the decode worker; it
        allocates only a few small temporaries (reductions write into the levels in place)."""
        frames = audio.shape[1]
        start = chunk * self.chunk_frames
        b0 = start // self.base_block
        whole = frames // self.base_block
        mins0, maxs0 = self._mins[0], self._maxs[0]
        if whole:
            blocks = audio[:, : whole * self.base_block].reshape(
                audio.shape[0], whole, self.base_block
            )
            np.min(blocks, axis=(0, 2), out=mins0[stem, b0 : b0 + whole])
            np.max(blocks, axis=(0, 2), out=maxs0[stem, b0 : b0 + whole])
        if frames % self.base_block:
            tail = audio[:, whole * self.base_block :]
            mins0[stem, b0 + whole] = tail.min()
            maxs0[stem, b0 + whole] = tail.max()
        a, b = b0, b0 + -(-frames // self.base_block)
        for k in range(1, self.n_levels):
            a, b = a // self.factor, -(-b // self.factor)
            below_min, below_max = self._mins[k - 1], self._maxs[k - 1]
            lo, hi = a * self.factor, b * self.factor
            np.min(
                below_min[stem, lo:hi].reshape(b - a, self.factor),
                axis=1,
                out=self._mins[k][stem, a:b],
            )
            np.max(
                below_max[stem, lo:hi].reshape(b - a, self.factor),
                axis=1,
                out=self._maxs[k][stem, a:b],
            )
        self._done[stem, chunk] = True
        self.version += 1
