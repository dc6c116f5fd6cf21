"""Automation playback: recorded parameter moves (fader, pan, mute, sends) as engine data.

A lane is a step function of time: points (frame, value), the value holding from each point to
the next (the first value also holds before the first point). The engine plays lanes back on a
fixed grid of `AUTOMATION_STEP`-frame *cells*:

* a cell that holds a lane point is processed as its own kernel sub-block, so the control ramps
  linearly across that cell to the lane's value at the cell's last frame (like any control
  change: no zipper noise; a step lands within one cell, 1.3 ms at 48 kHz);
* between such cells every automated value is constant, and the kernel's output with constant
  controls does not depend on where blocks are cut (audio.mixer), so a run of quiet cells is
  processed in as few calls as the host block allows.

The grid is anchored so that the kernel's input frames `pos + latency` of a host block that
starts on a multiple of `AUTOMATION_STEP` start on a cell edge: cells start at timeline frames
`c` with `(c - latency) % AUTOMATION_STEP == 0`. Hence a render is bit-identical for every block
size that is a multiple of `AUTOMATION_STEP` (64, 128, ... 4096), and the live engine equals the
offline render for the same block size from the same start. A live seek to a frame off the grid
or a loop wrap may cut a cell in two: the ramp there differs in the last bits, never audibly.

Threading: an `Automation` is built in the UI thread (numpy allocation happens here) and is
immutable afterwards; the engine swaps it in through its command queue. `span` and `apply` run
in the audio callback: compiled, allocation-free, no locks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audio import dsp
from audio.compiled import kernel

AUTOMATION_STEP = 64
"""Frames per automation cell (the finest time step a recorded move is played back at)."""

PARAMS = ("gain_db", "pan", "mute", "send_reverb", "send_delay")
"""Automatable per-stem parameters; the index is the `param` code used by the engine."""
P_GAIN, P_PAN, P_MUTE, P_SEND_REVERB, P_SEND_DELAY = range(len(PARAMS))

LaneSpec = tuple[int, str, Sequence[float], Sequence[float]]
"""(stem index, parameter name, point times in seconds at the original tempo, values)."""


class Automation:
    """Lanes packed for the callback: every lane's points in one frame array and one value
    array (lane k owns [off[k], off[k+1])), plus the sorted start frames of every cell that
    holds a point (where values move).

    `tempo_ratio` maps times at the original tempo to the stretched piece the engine plays
    (frame = round(t * rate / tempo_ratio)), the same rule as the arrangement's ranges.
    `latency` is the kernel latency of the engine that will play it (anchors the cell grid).
    """

    def __init__(
        self,
        lanes: Sequence[LaneSpec],
        n_stems: int,
        sample_rate: int,
        latency: int,
        tempo_ratio: float = 1.0,
    ) -> None:
        self.n_stems = int(n_stems)
        self.sample_rate = int(sample_rate)
        self.latency = int(latency)
        self.step = AUTOMATION_STEP
        frames: list[np.ndarray] = []
        values: list[np.ndarray] = []
        stems, params, off = [], [], [0]
        seen: set[tuple[int, int]] = set()
        for stem, param, times, vals in lanes:
            p = PARAMS.index(param)  # ValueError for an unknown parameter
            if not 0 <= int(stem) < self.n_stems:
                raise ValueError(f"automation stem index {stem} is not one of {n_stems} stems")
            if (int(stem), p) in seen:
                raise ValueError(f"two automation lanes for stem {stem} {param}; merge them")
            seen.add((int(stem), p))
            t = np.asarray(times, dtype=np.float64)
            v = np.asarray(vals, dtype=np.float64)
            if t.ndim != 1 or t.shape != v.shape or t.size == 0:
                raise ValueError("an automation lane needs as many values as times, at least one")
            if not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)):
                raise ValueError("automation times and values must be finite numbers")
            f = np.round(t * self.sample_rate / float(tempo_ratio)).astype(np.int64)
            if np.any(np.diff(f) < 0):
                raise ValueError("automation point times must increase")
            frames.append(f)
            values.append(v)
            stems.append(int(stem))
            params.append(p)
            off.append(off[-1] + f.size)
        self.frames = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
        self.values = np.concatenate(values) if values else np.zeros(0)
        self.off = np.asarray(off, dtype=np.int64)
        self.stem = np.asarray(stems, dtype=np.int64)
        self.param = np.asarray(params, dtype=np.int64)
        # Cells where a value may move: those holding any point after a lane's first.
        anchor = self.latency % self.step
        moving = [f[1:] for f in frames if f.size > 1]
        if moving:
            starts = np.concatenate(moving)
            starts = anchor + ((starts - anchor) // self.step) * self.step
            self.cells = np.unique(starts).astype(np.int64)
        else:
            self.cells = np.zeros(0, dtype=np.int64)

    @property
    def n_lanes(self) -> int:
        return int(self.stem.size)

    def automated(self) -> set[tuple[int, str]]:
        """(stem index, parameter name) of every lane."""
        return {(int(s), PARAMS[int(p)]) for s, p in zip(self.stem, self.param, strict=True)}

    def value(self, stem: int, param: str, frame: int) -> float | None:
        """The lane value at timeline frame `frame` (UI helper; None when not automated)."""
        p = PARAMS.index(param)
        for k in range(self.n_lanes):
            if self.stem[k] == stem and self.param[k] == p:
                a, b = int(self.off[k]), int(self.off[k + 1])
                j = int(np.searchsorted(self.frames[a:b], frame, side="right")) - 1
                return float(self.values[a + max(j, 0)])
        return None


@kernel
def span(cells, t, m, step):
    """(frames, eval_frame) of the next sub-block starting at timeline frame t, at most m long.

    Inside a moving cell: up to the cell's end, evaluated at its last frame (the ramp target).
    Elsewhere: up to the next moving cell, evaluated at t (values are constant there)."""
    lo = 0
    hi = cells.shape[0]
    while lo < hi:  # first cell whose end is after t
        mid = (lo + hi) // 2
        if cells[mid] + step <= t:
            lo = mid + 1
        else:
            hi = mid
    if lo < cells.shape[0] and cells[lo] <= t:
        end = cells[lo] + step
        return min(m, end - t), end - 1
    if lo < cells.shape[0]:
        return min(m, cells[lo] - t), t
    return m, t


@kernel
def apply(frames, values, off, stem, param, f, override, gain, pan, mute, strip):
    """Write every lane's value at timeline frame f into the effective control arrays, except
    lanes whose (stem, param) is in `override` (a control being moved while recording)."""
    for k in range(stem.shape[0]):
        s = stem[k]
        p = param[k]
        if override[s, p]:
            continue
        a = off[k]
        lo = a
        hi = off[k + 1]
        while lo < hi:  # first point after f
            mid = (lo + hi) // 2
            if frames[mid] <= f:
                lo = mid + 1
            else:
                hi = mid
        j = lo - 1 if lo > a else a
        v = values[j]
        if p == 0:
            gain[s] = v
        elif p == 1:
            pan[s] = v
        elif p == 2:
            mute[s] = v >= 0.5
        elif p == 3:
            strip[s, dsp.P_SEND_REVERB] = v
        else:
            strip[s, dsp.P_SEND_DELAY] = v


_WARM = False


def warm_up() -> None:
    """Compile (or load from numba's cache) `span` and `apply` in the calling (UI) thread."""
    global _WARM
    if _WARM:
        return
    auto = Automation([(0, "gain_db", [0.0, 0.01], [0.0, -6.0])], 1, 48000, 0)
    span(auto.cells, 0, 64, auto.step)
    override = np.zeros((1, len(PARAMS)), dtype=np.bool_)
    strip = np.tile(dsp.STRIP_DEFAULTS, (1, 1))
    apply(
        auto.frames,
        auto.values,
        auto.off,
        auto.stem,
        auto.param,
        0,
        override,
        np.zeros(1),
        np.zeros(1),
        np.zeros(1, dtype=np.bool_),
        strip,
    )
    _WARM = True
