"""Loudness of a render: ITU-R BS.1770-4 integrated loudness (LUFS) and true peak (dBTP).

For reports on exports and platform renders, not for the audio callback (it allocates).
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of an (N, 2) or (N,) render (K-weighted, gated, BS.1770-4).

    Returns -inf for silence or for material shorter than one 400 ms gating block."""
    data = np.asarray(audio, dtype=np.float64)
    if data.shape[0] < int(0.4 * sample_rate) or not np.any(data):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(data))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP: the peak of the 4x-oversampled signal (BS.1770-4 Annex 2)."""
    data = np.asarray(audio, dtype=np.float64)
    if not np.any(data):
        return float("-inf")
    up = resample_poly(data, 4, 1, axis=0)
    return float(20.0 * np.log10(np.abs(up).max()))
