"""A bounded-memory `BlockSource`: decoded audio in a fixed pool of chunk slots.

Holding every stem of a track decoded costs 8 stems x 5 min x 2 ch x 4 B ~ 900 MB. Instead a
worker decodes fixed-length chunks (all stems of one time range per slot) ahead of the playhead
into a pool allocated once; the callback copies from whichever slots hold the block's frames and
plays silence, counted as missing, for chunks not decoded yet (Mixxx's caching reader).

Threading: the callback only reads `_slot_of` and slot data. The worker claims a slot by first
unpublishing it (`_slot_of[old] = -1`), then writes the audio, then publishes it
(`_slot_of[chunk] = slot`). NB: it only recycles slots whose chunk is outside the keep window
around the playhead, so the callback is never reading a slot while it is rewritten.
"""

from __future__ import annotations

from collections.abc import Container

import numpy as np

CHUNK_FRAMES = 24_000  # 0.5 s at 48 kHz


class ChunkedSource:
    def __init__(
        self, n_stems: int, n_frames: int, n_slots: int, chunk_frames: int = CHUNK_FRAMES
    ) -> None:
        if n_stems < 1 or n_frames < 1 or n_slots < 2:
            raise ValueError("ChunkedSource needs at least one stem, one frame and two slots.")
        self.n_stems = n_stems
        self.n_frames = n_frames
        self.chunk_frames = chunk_frames
        self.n_chunks = -(-n_frames // chunk_frames)
        self.n_slots = min(n_slots, self.n_chunks)
        self._data = np.zeros((self.n_slots, n_stems, 2, chunk_frames), dtype=np.float32)
        # NB: written by the decode worker, read by the callback; int64 stores are atomic here.
        self._slot_of = np.full(self.n_chunks, -1, dtype=np.int64)
        self._chunk_in = np.full(self.n_slots, -1, dtype=np.int64)  # worker-only bookkeeping

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    # -- callback side ---------------------------------------------------------------------------

    def read(self, start: int, out: np.ndarray) -> int:
        n_out = out.shape[2]
        missing = 0
        pos = 0
        while pos < n_out:
            frame = start + pos
            if frame < 0 or frame >= self.n_frames:
                step = n_out - pos if frame >= self.n_frames else min(-frame, n_out - pos)
                out[:, :, pos : pos + step].fill(0.0)
                pos += step
                continue
            chunk, offset = divmod(frame, self.chunk_frames)
            step = min(self.chunk_frames - offset, n_out - pos, self.n_frames - frame)
            slot = self._slot_of[chunk]
            if slot < 0:
                out[:, :, pos : pos + step].fill(0.0)
                missing += step
            else:
                src = self._data[slot, :, :, offset : offset + step]
                np.copyto(out[:, :, pos : pos + step], src)
            pos += step
        return missing

    # -- worker side -----------------------------------------------------------------------------

    def has(self, chunk: int) -> bool:
        return self._slot_of[chunk] >= 0

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        start = chunk * self.chunk_frames
        return start, min(start + self.chunk_frames, self.n_frames)

    def chunk_at(self, frame: int) -> int:
        return min(max(frame, 0) // self.chunk_frames, self.n_chunks - 1)

    def claim(self, chunk: int, keep: Container[int], near: int) -> np.ndarray | None:
        """A slot's buffer (S, 2, chunk_frames) to decode `chunk` into, or None if every slot
        holds a chunk in `keep`; otherwise the chunk farthest from chunk `near` (the playhead's)
        is recycled. Call `publish(chunk)` once the audio is written."""
        free = np.flatnonzero(self._chunk_in < 0)
        if free.size:
            slot = int(free[0])
        else:
            candidates = [s for s in range(self.n_slots) if int(self._chunk_in[s]) not in keep]
            if not candidates:
                return None
            slot = max(candidates, key=lambda s: abs(int(self._chunk_in[s]) - near))
            self._slot_of[self._chunk_in[slot]] = -1
        self._chunk_in[slot] = -1
        self._pending = (chunk, slot)
        return self._data[slot]

    def publish(self, chunk: int) -> None:
        pending_chunk, slot = self._pending
        if pending_chunk != chunk:
            raise ValueError("publish() must follow claim() for the same chunk")
        self._chunk_in[slot] = chunk
        self._slot_of[chunk] = slot

    def drop_all(self) -> None:
        """Forget every decoded chunk (e.g. after a stem was found damaged)."""
        self._slot_of.fill(-1)
        self._chunk_in.fill(-1)
