"""Loudness normalisation of published renders: −14 LUFS integrated (ITU-R BS.1770 via
pyloudnorm), with the gain capped so the true peak (4× oversampled) stays at or below −1 dBTP.

Applied after the engine's render, so the mix itself stays bit-identical to the client's; the
disclosure record lists this step among the tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

TARGET_LUFS = -14.0
MAX_TRUE_PEAK_DBTP = -1.0
_OVERSAMPLE = 4
_CHUNK = 1 << 16  # frames per true-peak chunk: bounded memory however long the render


@dataclass(frozen=True)
class Loudness:
    measured_lufs: float  # before normalisation (-inf for silence)
    true_peak_dbtp: float  # before normalisation
    gain_db: float  # applied
    output_lufs: float
    output_true_peak_dbtp: float


def true_peak(mix: np.ndarray) -> float:
    """Linear true peak of an (N, C) signal, estimated with 4× polyphase oversampling."""
    peak = 0.0
    pad = 64  # overlap so the filter sees real neighbours at chunk edges
    for start in range(0, mix.shape[0], _CHUNK):
        lo = max(0, start - pad)
        chunk = np.asarray(mix[lo : start + _CHUNK + pad], dtype=np.float64)
        up = resample_poly(chunk, _OVERSAMPLE, 1, axis=0)
        peak = max(peak, float(np.max(np.abs(up), initial=0.0)))
    return max(peak, float(np.max(np.abs(mix), initial=0.0)))


def _db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def normalise(mix: np.ndarray, rate: int) -> tuple[np.ndarray, Loudness]:
    """(N, 2) float32 -> the same, at −14 LUFS or quieter so the true peak is ≤ −1 dBTP."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    lufs = float(meter.integrated_loudness(np.asarray(mix, dtype=np.float64)))
    tp = _db(true_peak(mix))
    if not math.isfinite(lufs) or not math.isfinite(tp):  # silence (or too short to gate)
        return mix, Loudness(lufs, tp, 0.0, lufs, tp)
    gain_db = min(TARGET_LUFS - lufs, MAX_TRUE_PEAK_DBTP - tp)
    out = (mix * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32, copy=False)
    return out, Loudness(lufs, tp, gain_db, lufs + gain_db, tp + gain_db)
