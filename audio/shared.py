"""The engine's only shared memory: the control bank (UI writes) and the published block
(callback writes). Commands travel separately, on audio.commands.CommandQueue.

Memory ordering. Both threads run Python bytecode holding the GIL (the callback is the render
thread's `Engine.process`, not PortAudio's thread: audio.device copies its output through a ring
with explicit fences). Taking and releasing the GIL are full barriers, so each store below is
seen by the other thread in program order on every CPU, x86 or arm64. What the GIL does not
give is *atomicity of a group*: a thread can be switched out between two stores. So:

* A single value (one fader, one counter) is written by one store and read by one load: it is
  always either the old or the new value. That is all the control bank needs (a fader and the
  EQ of another stem moving independently is what the user did), and what the meters need (a
  stem peak of this block beside a master peak of the last one is harmless on a meter).
* A group that must be read as one (playhead, source playhead, play state and the seq of the
  last applied command: `Engine.position_seconds` compares them) is published under a sequence
  lock (`Published.publish` / `Published.snapshot`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from audio import automation as auto_mod
from audio import dsp
from audio.loaded import Controls


class ControlBank:
    """Every parameter the UI sets, preallocated for `max_stems`.

    NB: written by the UI thread only (Engine's setters), one element per store; read by the
    callback once per block (MixKernel.process ramps from the last block's values, so a value
    written mid-block is picked up, whole, at the next block edge).
    """

    __slots__ = ("auto_override", "bus", "gain_db", "master_db", "mute", "pan", "solo", "strip")

    def __init__(self, max_stems: int) -> None:
        self.gain_db = np.zeros(max_stems)
        self.pan = np.zeros(max_stems)
        self.mute = np.zeros(max_stems, dtype=bool)
        self.solo = np.zeros(max_stems, dtype=bool)
        self.master_db = np.zeros(1)
        self.strip = np.tile(dsp.STRIP_DEFAULTS, (max_stems, 1))  # EQ, HP/LP, sends
        self.bus = dsp.BUS_DEFAULTS.copy()  # reverb, delay, tempo
        # While on, the live control drives (stem, param) instead of its automation lane.
        self.auto_override = np.zeros((max_stems, len(auto_mod.PARAMS)), dtype=bool)

    def controls(self, n_stems: int) -> Controls:
        """Views for `MixKernel.process`, for the first `n_stems` stems (no copies)."""
        return (
            self.gain_db[:n_stems],
            self.pan[:n_stems],
            self.mute[:n_stems],
            self.solo[:n_stems],
            self.master_db,
            self.strip[:n_stems],
            self.bus,
        )

    def reset_stems(self) -> None:
        """Per-stem controls back to 0 dB / centre / unmuted / unsoloed / flat (at a load)."""
        self.gain_db.fill(0.0)
        self.pan.fill(0.0)
        self.mute.fill(False)
        self.solo.fill(False)
        self.strip[:] = dsp.STRIP_DEFAULTS


class Position(NamedTuple):
    """One consistent read of the published transport state."""

    playhead: int
    """Timeline frame under the playhead."""
    source_playhead: int
    """Source frame under the playhead."""
    playing: bool
    applied_seq: int
    """`seq` of the last command the callback applied (audio.commands)."""


# Slots of Published._state.
_SEQ, _PLAYHEAD, _SRC_PLAYHEAD, _PLAYING, _APPLIED = range(5)
_MAX_RETRIES = 100_000
"""Snapshot attempts before giving up on a writer (each yields the GIL: seconds, not ms)."""


class Published:
    """What the callback tells the UI. NB: written by the callback thread only.

    * `_state` (transport group) under a sequence lock: `publish` makes the sequence odd, stores
      the values, then makes it even again (the publishing store). `snapshot` reads the
      sequence, the values, and the sequence again, and retries while it was odd or changed.
    * Meters (`stem_peaks`, `master_peak`, `master_rms`): single values, read without a lock.
    * Diagnostics counters: plain attributes, one writer each (the render thread that runs
      the callback; `underflows` is added by audio.device on that same thread), each rebind
      atomic under the GIL; polled by the UI.
    """

    __slots__ = (
        "_state",
        "callback_count",
        "callback_errors",
        "frames_rendered",
        "last_error",
        "master_peak",
        "master_rms",
        "missing_frames",
        "output_peak",
        "stem_peaks",
        "underflows",
    )

    def __init__(self, max_stems: int) -> None:
        # A list, not an array: a list store is a third of a numpy item store's cost, and
        # both threads only ever touch it from Python (under the GIL).
        self._state: list[int] = [0, 0, 0, 0, 0]
        self.stem_peaks = np.zeros(max_stems, dtype=np.float32)
        self.master_peak = np.zeros(2, dtype=np.float32)
        self.master_rms = np.zeros(2, dtype=np.float32)
        self.callback_count = 0
        self.frames_rendered = 0
        self.underflows = 0
        self.callback_errors = 0
        self.last_error: str | None = None
        self.output_peak = 0.0
        self.missing_frames = 0
        """Frames the source could not deliver in time (played as silence, never waited for)."""

    def reset_diagnostics(self) -> None:
        self.callback_count = 0
        self.frames_rendered = 0
        self.underflows = 0
        self.callback_errors = 0
        self.last_error = None
        self.output_peak = 0.0
        self.missing_frames = 0

    def silence_meters(self) -> None:
        self.stem_peaks.fill(0.0)
        self.master_peak.fill(0.0)
        self.master_rms.fill(0.0)

    def publish(self, playhead: int, source_playhead: int, playing: bool, applied: int) -> None:
        """Callback: publish the transport group as one."""
        state = self._state
        state[_SEQ] += 1  # NB: odd: a write is under way (stored first)
        state[_PLAYHEAD] = playhead
        state[_SRC_PLAYHEAD] = source_playhead
        state[_PLAYING] = 1 if playing else 0
        state[_APPLIED] = applied
        state[_SEQ] += 1  # NB: even again: publishes the group (stored last)

    def snapshot(self) -> Position:
        """Any thread: a consistent copy of the transport group (never a torn one)."""
        state = self._state
        for _ in range(_MAX_RETRIES):
            before = state[_SEQ]
            if before & 1:
                time.sleep(0)  # the writer was switched out mid-publish: let it finish
                continue
            pos = self._read()
            if state[_SEQ] == before:
                return pos
        # A writer that never finished (its thread died mid-publish): better a possibly torn
        # position than a UI that hangs on it.
        return self._read()

    def _read(self) -> Position:
        state = self._state
        return Position(
            state[_PLAYHEAD], state[_SRC_PLAYHEAD], bool(state[_PLAYING]), state[_APPLIED]
        )
