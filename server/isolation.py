"""Isolation judged on what is heard: may a solo-forbidden stem end up alone in a remix?

A rule that only looks at mute and solo flags is beaten by leaving the other stems at −96 dB,
filtering them away, or automating them down. This module asks the question on the sound
instead. Each stem of the track has a *band profile*: its power in third-octave bands for every
0.1 s of the track, computed once from the stored FLAC (a coarse envelope, from which no audio can
be rebuilt). A remix document then scales each stem's profile by what the document does to it —
gain and mute (static or automated, over the whole block), solo, the EQ and filters' exact
magnitude response (the engine's own biquads) — and follows its arrangement. The stem is *heard
alone* in a block when it is audible and everything else together is at least `ALONE_MARGIN_DB`
quieter.

The artist's own track may have such moments (an a cappella intro): the track as released, every
stem at its default, is the reference. Only blocks where the remix leaves the stem alone and the
released track does not, at the same place in the source, count; more than `TOLERANCE_S` of them
is refused, naming the first moment. The thresholds are documented in docs/policy.md.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.contract import AutomationLane, RemixDocument, StemSettings

BLOCK_S = 0.1
"""The analysis grid: gain changes and stem content are judged every 100 ms."""
ALONE_MARGIN_DB = 20.0
"""A stem is alone when every other stem together is at least this much quieter than it."""
AUDIBLE_DBFS = -60.0
"""Below this (the stem's mean power in the block) nothing is heard at all."""
TOLERANCE_S = 1.0
"""Exposed time a remix may add to the track's own, in total (block edges, crossfades)."""
SILENT_GAIN_DB = -96.0  # the document's lowest gain: treated as silence

BANDS_HZ = 1000.0 * 2.0 ** (np.arange(-16, 13) / 3.0)  # third octaves, 25 Hz .. 16 kHz
_EDGES_HZ = np.sqrt(BANDS_HZ[:-1] * BANDS_HZ[1:])


@dataclass(frozen=True)
class Exposure:
    """Where a forbidden stem is heard alone in a remix and not in the track as released."""

    stem_id: str
    seconds: float  # exposed time, at the remix's tempo
    first: float  # remix seconds at which the first exposed block starts


# -- profiles ---------------------------------------------------------------------------------


def band_profile(path: Path) -> np.ndarray:
    """(blocks, bands) float32: the stem's mean power in each third-octave band per block.

    Each block's bands sum to its mean power over channels (the spectrum only shares it out)."""
    rows = []
    with sf.SoundFile(str(path)) as f:
        block = max(1, round(BLOCK_S * f.samplerate))
        freqs = np.fft.rfftfreq(block, 1.0 / f.samplerate)
        onehot = np.zeros((len(freqs), len(BANDS_HZ)))
        onehot[np.arange(len(freqs)), np.searchsorted(_EDGES_HZ, freqs)] = 1.0
        window = np.hanning(block).astype(np.float32)
        for chunk in f.blocks(blocksize=block * 64, dtype="float32", always_2d=True):
            n = -(-chunk.shape[0] // block)  # the last block of the file padded with silence
            whole = np.zeros((n * block, chunk.shape[1]), np.float32)
            whole[: chunk.shape[0]] = chunk
            frames = whole.reshape(n, block, chunk.shape[1])
            power = np.mean(frames.astype(np.float64) ** 2, axis=(1, 2))
            spectrum = np.abs(np.fft.rfft(frames * window[None, :, None], axis=1)) ** 2
            spectrum = spectrum.sum(axis=2)  # (n, bins)
            bands = spectrum @ onehot  # (n, bands)
            total = bands.sum(axis=1, keepdims=True)
            share = np.divide(bands, total, out=np.zeros_like(bands), where=total > 0)
            rows.append((share * power[:, None]).astype(np.float32))
    return np.concatenate(rows) if rows else np.zeros((0, len(BANDS_HZ)), np.float32)


class ProfileCache:
    """Band profiles per stem file, computed once and kept beside the stem (`.bands.npy`, a few
    hundred kB per stem: no audio); keyed by the file's digest so a re-imported stem is redone."""

    def __init__(self) -> None:
        self._memory: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, sha256: str) -> np.ndarray:
        key = (str(path), sha256)
        with self._lock:
            cached = self._memory.get(key)
        if cached is not None:
            return cached
        disk = path.with_name(f"{path.name}.{sha256[:16]}.bands.npy")
        try:
            profile = np.load(disk)
        except (OSError, ValueError):
            profile = band_profile(path)
            tmp = disk.with_name(f"{disk.name}.{threading.get_ident()}.tmp.npy")
            np.save(tmp, profile)
            tmp.replace(disk)
        with self._lock:
            self._memory[key] = profile
        return profile


PROFILES = ProfileCache()


# -- what the document does to each stem --------------------------------------------------------


def power_response(settings: StemSettings, rate: float) -> np.ndarray:
    """|H(f)|² of the stem's EQ and filter chain at each band centre: the engine's biquads."""
    from audio import dsp  # late: the platform starts without the renderer's compile
    from core.remix import strip_row

    coefs = getattr(dsp.biquad_coefs, "py_func", dsp.biquad_coefs)
    row = strip_row(settings)
    z = np.exp(-1j * 2.0 * np.pi * BANDS_HZ / rate)
    response = np.ones(len(BANDS_HZ))
    out = np.zeros(5)
    for stage, param in enumerate(dsp._STRIP_PARAM_OF_STAGE):
        coefs(stage, float(row[param]), float(rate), out)
        b0, b1, b2, a1, a2 = out
        h = (b0 + b1 * z + b2 * z * z) / (1.0 + a1 * z + a2 * z * z)
        response *= np.abs(h) ** 2
    return response


def _lane_extremes(
    lane: AutomationLane, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of a step-function lane over each interval [start, end)."""
    times = np.array([t for t, _ in lane.points])
    values = np.array([v for _, v in lane.points])
    first = np.maximum(np.searchsorted(times, starts, side="right") - 1, 0)
    last = np.maximum(np.searchsorted(times, ends, side="left") - 1, first)
    lows, highs = np.empty(len(starts)), np.empty(len(starts))
    for i, (a, b) in enumerate(zip(first, last, strict=True)):  # few points per block
        lows[i], highs[i] = values[a : b + 1].min(), values[a : b + 1].max()
    return lows, highs


def _gain_bounds(
    doc: RemixDocument, stem_id: str, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(quietest, loudest) linear power gain of the stem within each block: mute and gain,
    static or automated (a lane replaces the static value while it exists)."""
    settings = doc.stems.get(stem_id, StemSettings())
    lanes = {lane.param: lane for lane in doc.automation if lane.stem == stem_id}
    n = len(starts)
    if "gain_db" in lanes:
        gain_lo, gain_hi = _lane_extremes(lanes["gain_db"], starts, ends)
    else:
        gain_lo = gain_hi = np.full(n, settings.gain_db)
    if "mute" in lanes:
        mute_lo, mute_hi = _lane_extremes(lanes["mute"], starts, ends)
    else:
        mute_lo = mute_hi = np.full(n, 1.0 if settings.mute else 0.0)

    def power(db: np.ndarray) -> np.ndarray:
        return np.where(db <= SILENT_GAIN_DB, 0.0, 10.0 ** (db / 10.0))

    quietest = np.where(mute_hi >= 1.0, 0.0, power(gain_lo))
    loudest = np.where(mute_lo >= 1.0, 0.0, power(gain_hi))
    return quietest, loudest


def _source_blocks(doc: RemixDocument, track_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(arranged start seconds, source block index) of every block the remix plays."""
    slots = (
        [(s.start, min(s.end, track_seconds)) for s in doc.arrangement]
        if doc.arrangement is not None
        else [(0.0, track_seconds)]
    )
    starts, sources, at = [], [], 0.0
    for start, end in slots:
        count = max(0, math.ceil((end - start) / BLOCK_S - 1e-9))
        offsets = np.arange(count) * BLOCK_S
        starts.append(at + offsets)
        sources.append(np.floor((start + offsets) / BLOCK_S + 1e-9).astype(np.int64))
        at += max(0.0, end - start)
    if not starts:
        return np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(sources)


def _alone(stem: np.ndarray, others: np.ndarray) -> np.ndarray:
    audible = stem > 10.0 ** (AUDIBLE_DBFS / 10.0)
    return audible & (others * 10.0 ** (ALONE_MARGIN_DB / 10.0) <= stem)


def exposure(
    doc: RemixDocument,
    profiles: Mapping[str, np.ndarray],
    usable: Sequence[str],
    forbidden: Sequence[str],
    rate: float,
) -> Exposure | None:
    """The first forbidden stem the remix leaves alone for longer than the tolerance, or None.

    `profiles`: every stem of the track (the released track is the reference); `usable`: the
    stems the remix may sound (the artist's allowed ones)."""
    targets = [s for s in forbidden if s in usable and s in profiles]
    if not targets:
        return None
    length = max((len(p) for p in profiles.values()), default=0)
    track_seconds = length * BLOCK_S
    starts, sources = _source_blocks(doc, track_seconds)
    if len(starts) == 0:
        return None
    ends = starts + BLOCK_S

    def content(stem_id: str) -> np.ndarray:
        """(blocks, bands) of the stem at the blocks the remix plays (silence past its end)."""
        p = profiles[stem_id]
        padded = np.vstack([p, np.zeros((1, p.shape[1]), p.dtype)])
        return padded[np.minimum(sources, len(p))].astype(np.float64)

    any_solo = any(doc.stems.get(s, StemSettings()).solo for s in usable)
    quiet, loud = {}, {}
    for stem_id in usable:
        settings = doc.stems.get(stem_id, StemSettings())
        if any_solo and not settings.solo:
            quiet[stem_id] = loud[stem_id] = np.zeros(len(starts))
            continue
        heard = content(stem_id) @ power_response(settings, rate)
        lo, hi = _gain_bounds(doc, stem_id, starts, ends)
        quiet[stem_id], loud[stem_id] = heard * lo, heard * hi

    released = {s: content(s).sum(axis=1) for s in profiles}
    for target in targets:
        others = sum((quiet[s] for s in usable if s != target), np.zeros(len(starts)))
        alone = _alone(loud[target], others)
        rest = sum((released[s] for s in profiles if s != target), np.zeros(len(starts)))
        exposed = alone & ~_alone(released[target], rest)
        seconds = float(exposed.sum()) * BLOCK_S
        if seconds > TOLERANCE_S:
            first = float(starts[int(np.argmax(exposed))])
            return Exposure(target, seconds / doc.tempo_ratio, first / doc.tempo_ratio)
    return None
