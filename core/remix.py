"""The remix document as the engine sees it.

Client preview and platform render both turn a `RemixDocument` into per-stem arrays here, so the
two renders cannot disagree about what a document means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.contract import RemixDocument, StemSettings

if TYPE_CHECKING:
    from audio.mixsettings import MixSettings


@dataclass(frozen=True)
class MixArrays:
    """Per-stem controls in the order of `stem_ids`."""

    gain_db: np.ndarray  # float64 (S,)
    pan: np.ndarray  # float64 (S,)
    mute: np.ndarray  # bool (S,)
    solo: np.ndarray  # bool (S,)
    master_gain_db: float
    strip: np.ndarray  # float64 (S, dsp.N_STRIP): EQ, HP/LP, sends
    bus: np.ndarray  # float64 (dsp.N_BUS,): reverb, delay, tempo
    tempo_ratio: float = 1.0  # tempo, key kept (audio.stretch)
    key_shift: int = 0  # semitones
    automation: tuple = ()  # audio.automation.LaneSpec per lane, see automation_lanes


def strip_row(s: StemSettings) -> list[float]:
    """One stem's strip controls in the engine's column order (audio.dsp.P_*)."""
    from audio import dsp  # late: the server starts (and rejects clearly) without the renderer

    row = [0.0] * dsp.N_STRIP
    row[dsp.P_EQ_LOW], row[dsp.P_EQ_MID], row[dsp.P_EQ_HIGH] = (
        s.eq_low_db,
        s.eq_mid_db,
        s.eq_high_db,
    )
    row[dsp.P_HP], row[dsp.P_LP] = s.hp_hz, s.lp_hz
    row[dsp.P_SEND_REVERB], row[dsp.P_SEND_DELAY] = s.send_reverb, s.send_delay
    return row


def bus_row(doc: RemixDocument, bpm: float) -> np.ndarray:
    """The document's reverb/delay settings and the track tempo, in audio.dsp.B_* order."""
    from audio import dsp

    bus = np.zeros(dsp.N_BUS)
    bus[dsp.B_REV_SIZE], bus[dsp.B_REV_DAMP] = doc.reverb.size, doc.reverb.damping
    bus[dsp.B_REV_WET] = doc.reverb.wet
    bus[dsp.B_DLY_BEATS], bus[dsp.B_DLY_FEEDBACK] = doc.delay.beats, doc.delay.feedback
    bus[dsp.B_DLY_WET] = doc.delay.wet
    # The delay follows the remix's tempo: the track's bpm times the tempo ratio.
    bus[dsp.B_BPM] = min(240.0, max(60.0, float(bpm) * doc.tempo_ratio))
    return bus


def document_arrays(doc: RemixDocument, stem_ids: list[str], bpm: float = 120.0) -> MixArrays:
    """Stems the document does not mention play at their defaults (unity, centre, flat).

    `bpm` is the track's tempo (the delay is tempo-synced); pass the analysis bpm."""
    from audio import dsp

    settings = [doc.stems.get(stem_id, StemSettings()) for stem_id in stem_ids]
    return MixArrays(
        gain_db=np.array([s.gain_db for s in settings], dtype=np.float64),
        pan=np.array([s.pan for s in settings], dtype=np.float64),
        mute=np.array([s.mute for s in settings], dtype=bool),
        solo=np.array([s.solo for s in settings], dtype=bool),
        master_gain_db=doc.master_gain_db,
        strip=np.array([strip_row(s) for s in settings], dtype=np.float64).reshape(-1, dsp.N_STRIP),
        bus=bus_row(doc, bpm),
        tempo_ratio=doc.tempo_ratio,
        key_shift=doc.key_shift,
        automation=tuple(automation_lanes(doc, stem_ids)),
    )


def mix_settings(
    doc: RemixDocument, stem_ids: list[str], sample_rate: int, bpm: float = 120.0
) -> MixSettings:
    """The document as the engine takes it, for the live studio and every render alike
    (audio.mixsettings): `document_arrays` plus the arrangement in frames at `sample_rate`."""
    from audio.mixsettings import MixSettings

    arrays = document_arrays(doc, stem_ids, bpm=bpm)
    return MixSettings.of(
        len(stem_ids),
        arrays.gain_db,
        arrays.pan,
        arrays.mute,
        arrays.solo,
        arrays.master_gain_db,
        strip=arrays.strip,
        bus=arrays.bus,
        tempo_ratio=arrays.tempo_ratio,
        key_shift=arrays.key_shift,
        automation=arrays.automation,
        arrangement=arrangement_frames(doc, sample_rate),
    )


def automation_lanes(
    doc: RemixDocument, stem_ids: list[str]
) -> list[tuple[int, str, list[float], list[float]]]:
    """The document's automation as `audio` lanes: (stem index in `stem_ids`, parameter,
    times in seconds of the arranged piece at the original tempo, values). Lanes of stems not
    in `stem_ids` are left out (the platform refuses them before rendering)."""
    lanes: list[tuple[int, str, list[float], list[float]]] = []
    for lane in doc.automation:
        if lane.stem in stem_ids:
            times = [t for t, _ in lane.points]
            values = [v for _, v in lane.points]
            lanes.append((stem_ids.index(lane.stem), lane.param, times, values))
    return lanes


def audible_stems(doc: RemixDocument, stem_ids: list[str]) -> list[str]:
    """Stems that reach the mix: not muted, and soloed when anything is soloed. With mute
    automation, a stem counts when it sounds at some moment of the remix."""
    arrays = document_arrays(doc, stem_ids)
    any_solo = bool(arrays.solo.any())
    unmuted_sometime = {
        lane.stem
        for lane in doc.automation
        if lane.param == "mute" and any(v == 0.0 for _, v in lane.points)
    }
    muted_always = {
        lane.stem
        for lane in doc.automation
        if lane.param == "mute" and all(v == 1.0 for _, v in lane.points)
    }
    return [
        stem_id
        for stem_id, mute, solo in zip(stem_ids, arrays.mute, arrays.solo, strict=True)
        if (solo or not any_solo)
        and stem_id not in muted_always
        and (not mute or stem_id in unmuted_sometime)
    ]


# -- arrangement (issue 3, transport) ------------------------------------------------------------


def arrangement_frames(doc: RemixDocument, sample_rate: int) -> list[tuple[int, int]] | None:
    """The document's arrangement as source frame ranges for `audio` (None: as delivered).

    One rounding rule (`round(seconds * rate)`) for the client preview and the platform render."""
    if doc.arrangement is None:
        return None
    return [(round(s.start * sample_rate), round(s.end * sample_rate)) for s in doc.arrangement]


def arranged_seconds(doc: RemixDocument, track_seconds: float) -> float:
    """How long the remix plays before any tempo change: the sum of its arranged sections, or
    the track's length. The platform's maximum-length rule measures this (divided by tempo)."""
    if doc.arrangement is None:
        return track_seconds
    return sum(min(s.end, track_seconds) - min(s.start, track_seconds) for s in doc.arrangement)


def arrangement_problem(doc: RemixDocument, track_seconds: float) -> str | None:
    """Why the arrangement cannot be rendered on this track, in words a fan can act on."""
    for slot in doc.arrangement or []:
        if slot.end > track_seconds + 1e-3:
            label = f"'{slot.name}' " if slot.name else ""
            return (
                f"arrangement section {label}{slot.start:g}-{slot.end:g} s ends after the track "
                f"({track_seconds:.3f} s); rebuild the arrangement from this track's sections"
            )
    return None
