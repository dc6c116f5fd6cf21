"""`MixSettings`: everything a remix sets in an `Engine`, and the one place that sets it.

Why one object: the live studio (app/studio.py) and every render (audio/offline.py, called by
the platform's pipeline and worker) must hear a document the same way. Both build a
`MixSettings` (from a remix document: core/remix.py `mix_settings`) and hand it to
`apply`, so there is one mapping from settings to engine calls, not two lists of setters that
could drift apart.

Plain data over numpy arrays in the engine's own units and layouts (stem order of the loaded
source, strip columns audio.dsp.P_*, bus columns audio.dsp.B_*, arrangement in source frames),
so audio keeps importing nothing of ours; the engine's setters validate the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the engine and the kernels are not imported for plain data
    from audio.automation import LaneSpec
    from audio.engine import Engine


def _per_stem(value: Any, n_stems: int, dtype: type) -> np.ndarray:
    """Scalar or length-S sequence -> length-S array (the Engine setters validate values)."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), (n_stems,))


@dataclass(frozen=True, eq=False)
class MixSettings:
    """Per-stem controls (length S, in the order of the loaded stems) and the mix-wide ones.

    `strip` (S, audio.dsp.N_STRIP) and `bus` (audio.dsp.N_BUS,) carry EQ, filters, sends and
    the reverb/delay/tempo settings (None: left as the engine has them, flat on a fresh one).
    `arrangement` lists source frame ranges played in order (None: the track as delivered).
    `automation` lists lanes (stem index, parameter, times in seconds of the arranged piece at
    the original tempo, values)."""

    gain_db: np.ndarray
    pan: np.ndarray
    mute: np.ndarray
    solo: np.ndarray
    master_gain_db: float = 0.0
    strip: np.ndarray | None = None
    bus: np.ndarray | None = None
    tempo_ratio: float = 1.0
    key_shift: int = 0
    automation: tuple[LaneSpec, ...] = field(default=())
    arrangement: tuple[tuple[int, int], ...] | None = None

    @classmethod
    def of(
        cls,
        n_stems: int,
        gain_db: Any = 0.0,
        pan: Any = 0.0,
        mute: Any = False,
        solo: Any = False,
        master_gain_db: float = 0.0,
        strip: np.ndarray | None = None,
        bus: np.ndarray | None = None,
        tempo_ratio: float = 1.0,
        key_shift: int = 0,
        automation: Sequence[LaneSpec] | None = None,
        arrangement: Sequence[tuple[int, int]] | None = None,
    ) -> MixSettings:
        """Settings for `n_stems` stems: gain_db/pan/mute/solo are scalars (every stem) or
        length-S sequences."""
        return cls(
            gain_db=_per_stem(gain_db, n_stems, float),
            pan=_per_stem(pan, n_stems, float),
            mute=_per_stem(mute, n_stems, bool),
            solo=_per_stem(solo, n_stems, bool),
            master_gain_db=float(master_gain_db),
            strip=None if strip is None else np.asarray(strip, dtype=np.float64),
            bus=None if bus is None else np.asarray(bus, dtype=np.float64),
            tempo_ratio=float(tempo_ratio),
            key_shift=int(key_shift),
            automation=tuple(automation or ()),
            arrangement=None if arrangement is None else tuple((a, b) for a, b in arrangement),
        )

    @property
    def n_stems(self) -> int:
        return int(self.gain_db.shape[0])

    def audible(self) -> np.ndarray:
        """(S,) bool: stems that can be heard at some moment (not muted, soloed when anything
        is soloed, above -96 dB; a gain or mute lane may make any stem heard)."""
        audible = ~self.mute & (self.solo | ~self.solo.any()) & (self.gain_db > -96.0)
        for stem, param, *_ in self.automation:
            if param in ("gain_db", "mute"):
                audible[int(stem)] = bool(self.solo[int(stem)] or not self.solo.any())
        return audible

    def apply(
        self, engine: Engine, since: MixSettings | None = None, *, prestretched: bool = False
    ) -> None:
        """Set these settings in `engine` (its stems loaded, in this order).

        The static controls (faders, pans, mutes, solos, master, strip, bus) are always set:
        setting an unchanged one is silent. The arrangement, the automation and the stretch are
        re-sent only where they differ from `since` (the settings the engine had), because
        re-sending them is heard: an arrangement is a cut that clears the loop, the stretcher
        restarts. `since` None: everything is sent that differs from a freshly loaded engine.

        `prestretched`: the engine plays stems already stretched by tempo_ratio / key_shift
        (an offline render, audio.stretch), so the automation's times are scaled to the
        stretched piece and the live stretcher stays off; otherwise the live stretcher
        (audio.livestretch) does it, and automation stays in the track's own time."""
        for i in range(self.n_stems):
            engine.set_gain_db(i, float(self.gain_db[i]))
            engine.set_pan(i, float(self.pan[i]))
            engine.set_mute(i, bool(self.mute[i]))
            engine.set_solo(i, bool(self.solo[i]))
        engine.set_master_gain_db(self.master_gain_db)
        if self.strip is not None:
            engine.set_strip(self.strip)
        if self.bus is not None:
            engine.set_bus(self.bus)
        if since is None or since.arrangement != self.arrangement:
            timeline = engine.timeline
            if self.arrangement is not None or (timeline is not None and timeline.arranged):
                engine.set_arrangement(None if self.arrangement is None else list(self.arrangement))
        automation_changed = since is None or since.automation != self.automation
        if automation_changed and (self.automation or engine.automation is not None):
            ratio = self.tempo_ratio if prestretched else 1.0
            lanes = list(self.automation)
            engine.set_automation(engine.automation_for(lanes, ratio) if lanes else None)
        if prestretched:
            return
        if since is None or (since.tempo_ratio, since.key_shift) != (
            self.tempo_ratio,
            self.key_shift,
        ):
            engine.set_stretch(self.tempo_ratio, self.key_shift)
