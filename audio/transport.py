"""Where the playhead reads: section arrangement and loop region as one `Timeline`.

Three clocks, kept apart on purpose:

* **source frames**: frames of the stems as the artist delivered them;
* **timeline frames** (`t`): frames of the arranged piece. With no arrangement `t` *is* the
  source frame; with one, the chosen sections play back to back and `t` runs over their sum;
* **play frames** (`v`): the engine's playhead, which only ever moves forward while playing. With
  no loop `v == t`; with a loop `[ls, le)` every frame at or after `le` folds back into the loop
  (`t = ls + (v - le) % (le - ls)`), so the kernel (EQ/filter/reverb/delay state, the limiter's
  lookahead) sees one continuous stream across a wrap: only the *read position* jumps.

Joins (between two arranged sections, and at a loop wrap) are equal-power crossfades that end at
the join: over the `X` frames before it the outgoing material fades out (cos) while the incoming
material's `X` frames *before its start* fade in (sin), so the incoming section's first frame (its
downbeat) arrives at full level exactly on time and the arranged length is the plain sum of the
section lengths. Pre-roll before frame 0 of the track is silence.

`Timeline.read` runs in the audio callback: no locks, no allocation (its two scratch blocks are
made by the constructor, in the UI thread), no I/O. A `Timeline` is immutable once built; the
engine swaps a whole new one in through its command queue.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from audio.source import BlockSource

JOIN_CROSSFADE_S = 0.015
"""Crossfade at an arrangement join: 15 ms, short enough to keep the downbeat, long enough that
two unrelated waveforms meet without a click. Part of the remix format (docs/remix-format.md)."""

LOOP_CROSSFADE_S = 0.010
"""Crossfade at a loop wrap (a practice aid; never part of a rendered remix)."""

MIN_SEGMENT_S = 0.05
"""Shortest arranged section or loop: longer than two crossfades, shorter than any real bar."""


def crossfade_frames(seconds: float, sample_rate: int) -> int:
    return max(1, round(seconds * sample_rate))


def equal_power(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) float32 of length n: cos/sin of a quarter turn sampled at the frame
    centres, so fade_out**2 + fade_in**2 == 1 (constant power for uncorrelated material) and
    neither curve reaches exactly 0 or 1 inside the fade (the ends meet the plain signal)."""
    theta = (np.arange(n, dtype=np.float64) + 0.5) * (math.pi / 2.0 / n)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def _blend(out: np.ndarray, other: np.ndarray, fo: np.ndarray, fi: np.ndarray) -> None:
    """out = out * fo + other * fi, in place, float32, one fixed operation order (the reference
    in the tests does the same arithmetic, so arranged renders null exactly)."""
    np.multiply(out, fo, out=out)
    np.multiply(other, fi, out=other)
    np.add(out, other, out=out)


class Timeline:
    """Maps play frames to source frames through an optional arrangement and loop.

    `segments`: source frame ranges `[(start, end), ...]` played in order (None: the whole
    track once). `loop`: timeline frames `(ls, le)` (None: no loop). Raises ValueError, in words
    a caller can show, when a range is empty, too short or outside the track.
    """

    def __init__(
        self,
        n_stems: int,
        max_block: int,
        source_frames: int,
        sample_rate: int,
        segments: Sequence[tuple[int, int]] | None = None,
        loop: tuple[int, int] | None = None,
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.source_frames = int(source_frames)
        min_len = crossfade_frames(MIN_SEGMENT_S, self.sample_rate)
        if segments is not None and len(segments) == 0:
            raise ValueError("an arrangement needs at least one section; clear it instead")
        segs = (
            [(0, self.source_frames)]
            if segments is None
            else [(int(a), int(b)) for a, b in segments]
        )
        for a, b in segs:
            if not 0 <= a < b <= self.source_frames:
                raise ValueError(
                    f"section {a / sample_rate:.3f}-{b / sample_rate:.3f} s is outside the track "
                    f"(0-{self.source_frames / sample_rate:.3f} s); pick sections of this track"
                )
            if b - a < min_len and segments is not None:
                raise ValueError(
                    f"section {a / sample_rate:.3f}-{b / sample_rate:.3f} s is shorter than "
                    f"{MIN_SEGMENT_S * 1000:.0f} ms; pick a longer section"
                )
        self.arranged = segments is not None
        self.segments: tuple[tuple[int, int], ...] = tuple(segs)
        self._src = [a for a, _ in segs]
        self._t0 = [0]
        for a, b in segs:
            self._t0.append(self._t0[-1] + (b - a))
        self.length = self._t0[-1]
        """Frames of the arranged piece (the sum of the section lengths)."""

        self.loop: tuple[int, int] | None = None
        if loop is not None:
            ls, le = int(loop[0]), int(loop[1])
            if not 0 <= ls < le <= self.length:
                raise ValueError(
                    f"loop {ls / sample_rate:.3f}-{le / sample_rate:.3f} s is outside the piece "
                    f"(0-{self.length / sample_rate:.3f} s); set it inside the track"
                )
            if le - ls < min_len:
                raise ValueError(
                    f"a loop must last at least {MIN_SEGMENT_S * 1000:.0f} ms; widen it"
                )
            self.loop = (ls, le)

        self.join_frames = crossfade_frames(JOIN_CROSSFADE_S, self.sample_rate)
        self.loop_frames = crossfade_frames(LOOP_CROSSFADE_S, self.sample_rate)
        if self.loop is not None:
            self.loop_frames = min(self.loop_frames, (self.loop[1] - self.loop[0]) // 2)
        self._jo, self._ji = equal_power(self.join_frames)
        self._lo, self._li = equal_power(self.loop_frames)
        # NB: callback-owned scratch, made here (UI thread) so `read` never allocates.
        self._join_scratch = np.zeros((n_stems, 2, max_block), dtype=np.float32)
        self._loop_scratch = np.zeros((n_stems, 2, max_block), dtype=np.float32)

    # -- mapping (UI thread and callback; pure integer arithmetic) -------------------------------

    @property
    def end(self) -> int:
        """The play frame where playback stops (never, with a loop)."""
        return (1 << 62) if self.loop is not None else self.length

    def timeline_frame(self, v: int) -> int:
        """Play frame -> timeline frame (folds loop passes back into the loop)."""
        loop = self.loop
        if loop is None or v < loop[1]:
            return v
        ls, le = loop
        return ls + (v - le) % (le - ls)

    def source_frame(self, t: int) -> int:
        """Timeline frame -> source frame (t clamped into the piece)."""
        t = min(max(t, 0), max(self.length - 1, 0))
        i = bisect_right(self._t0, t) - 1
        return self._src[i] + (t - self._t0[i])

    def slot_of(self, t: int) -> int:
        """Index of the arranged section playing at timeline frame t."""
        t = min(max(t, 0), max(self.length - 1, 0))
        return bisect_right(self._t0, t) - 1

    def slot_range(self, i: int) -> tuple[int, int]:
        """Timeline frames [start, end) of arranged section i."""
        return self._t0[i], self._t0[i + 1]

    def timeline_of_source(self, s: int) -> int:
        """The first timeline frame that plays source frame s (0 when none does)."""
        for i, (a, b) in enumerate(self.segments):
            if a <= s < b:
                return self._t0[i] + (s - a)
        return 0

    def source_ranges(self, t: int, n: int) -> list[tuple[int, int]]:
        """Source frame ranges [a, b) the next n frames from timeline frame t play, in order,
        through the arrangement and round the loop: what must be decoded ahead of the playhead
        (a loop's start is needed before its end is reached, not after)."""
        out: list[tuple[int, int]] = []
        t = self.timeline_frame(min(max(t, 0), self.length))
        while n > 0 and len(out) < 256:
            stop = self.loop[1] if self.loop is not None else self.length
            if t >= stop:
                if self.loop is None:
                    break
                t = self.loop[0]
                continue
            i = self.slot_of(t)
            m = min(n, self._t0[i + 1] - t, stop - t)
            a = self._src[i] + (t - self._t0[i])
            out.append((a, a + m))
            n -= m
            t += m
        return out

    def play_frame_for_seek(self, t: int) -> int:
        """Where a seek to timeline frame t puts the playhead: inside the piece, and at the loop
        start when t lies after the loop (a loop, once on, holds the playhead)."""
        t = min(max(t, 0), max(self.length - 1, 0))
        if self.loop is not None and t >= self.loop[1]:
            return self.loop[0]
        return t

    # -- reading (audio callback) ----------------------------------------------------------------

    def read(self, source: BlockSource, v: int, out: np.ndarray) -> int:
        """Fill out (S, 2, F) with play frames [v, v+F); returns frames the source missed."""
        loop = self.loop
        if loop is None:
            return self._read_t(source, v, out)
        ls, le = loop
        n = out.shape[2]
        missing = 0
        done = 0
        x = self.loop_frames
        while done < n:
            t = self.timeline_frame(v + done)
            step = min(n - done, le - t)
            dst = out[:, :, done : done + step]
            missing += self._read_t(source, t, dst)
            # The wrap crossfade covers timeline [le - x, le): blend in the loop-start pre-roll.
            a = max(t, le - x)
            if a < t + step:
                k0, k1 = a - (le - x), t + step - (le - x)
                sub = dst[:, :, a - t :]
                pre = self._loop_scratch[:, :, : k1 - k0]
                missing += self._read_t(source, a - (le - ls), pre)
                _blend(sub, pre, self._lo[k0:k1], self._li[k0:k1])
            done += step
        return missing

    def _read_t(self, source: BlockSource, t: int, out: np.ndarray) -> int:
        """Fill out with timeline frames [t, t+F) (zeros before 0 and after the end)."""
        n = out.shape[2]
        if not self.arranged:
            return source.read(t, out)
        missing = 0
        done = 0
        x = self.join_frames
        last = len(self.segments) - 1
        while done < n:
            tt = t + done
            if tt < 0 or tt >= self.length:
                step = min(n - done, -tt) if tt < 0 else n - done
                out[:, :, done : done + step].fill(0.0)
                done += step
                continue
            i = bisect_right(self._t0, tt) - 1
            seg_end = self._t0[i + 1]
            step = min(n - done, seg_end - tt)
            dst = out[:, :, done : done + step]
            missing += source.read(self._src[i] + (tt - self._t0[i]), dst)
            if i < last:
                # Join crossfade over timeline [seg_end - x, seg_end): the next section's
                # pre-roll (its x source frames before its start) fades in.
                a = max(tt, seg_end - x)
                if a < tt + step:
                    k0, k1 = a - (seg_end - x), tt + step - (seg_end - x)
                    pre = self._join_scratch[:, :, : k1 - k0]
                    missing += source.read(self._src[i + 1] - x + k0, pre)
                    _blend(dst[:, :, a - tt :], pre, self._jo[k0:k1], self._ji[k0:k1])
            done += step
        return missing


def frames(seconds: float, sample_rate: int) -> int:
    """Seconds -> frames, the one rounding rule the document, engine and renderer share."""
    return round(seconds * sample_rate)


def snap_to_bar(seconds: float, bpm: float, first_beat: float, beats_per_bar: int) -> float:
    """The bar line (of the track's regular beat grid) nearest to `seconds`; never before 0."""
    bar = 60.0 / bpm * max(1, beats_per_bar)
    k = round((seconds - first_beat) / bar)
    return max(0.0, first_beat + k * bar)
