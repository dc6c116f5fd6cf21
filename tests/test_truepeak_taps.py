"""The stored true-peak taps (limiter and loudness meter) are scipy's design, to the last bit."""

from __future__ import annotations

import numpy as np
from scipy.signal import firwin, resample_poly

from audio import dsp, loudness
from audio.truepeak_taps import METER_DESIGN, METER_TAPS, TAPS, TP_DESIGN


def _design(d: dict) -> np.ndarray:
    return firwin(d["numtaps"], d["cutoff"], window=d["window"]) * d["gain"]


def test_stored_taps_are_scipys_firwin_bit_for_bit():
    assert np.array_equal(np.array(TAPS).view(np.int64), _design(TP_DESIGN).view(np.int64))
    assert (TP_DESIGN["numtaps"], TP_DESIGN["gain"]) == (dsp.TP_TAPS, dsp.TP_OVERSAMPLE)


def test_the_limiter_phases_come_from_them():
    phases = dsp.true_peak_fir()
    h = np.array(TAPS)
    assert phases.shape == (dsp.TP_OVERSAMPLE - 1, -(-dsp.TP_TAPS // dsp.TP_OVERSAMPLE))
    for p in range(1, dsp.TP_OVERSAMPLE):
        row = h[p :: dsp.TP_OVERSAMPLE]
        assert np.array_equal(phases[p - 1, : row.size], row)
        assert not phases[p - 1, row.size :].any()


def test_the_meter_taps_are_resample_polys_interpolator():
    assert np.array_equal(np.array(METER_TAPS).view(np.int64), _design(METER_DESIGN).view(np.int64))
    assert METER_DESIGN["gain"] == loudness.TP_OVERSAMPLE


def test_the_meter_true_peak_is_the_peak_of_resample_poly():
    """An inter-sample peak (a tone at fs/4 phased between samples) is found as scipy finds it."""
    n = np.arange(4800)
    x = 0.9 * np.sin(2 * np.pi * n / 4 + np.pi / 4)  # every sample at 0.636, the wave at 0.9
    expected = np.max(np.abs(resample_poly(x, 4, 1)))
    assert np.max(np.abs(x)) < 0.65 < 0.85 < expected
    assert abs(loudness.true_peak(x) - expected) < 1e-6  # the kernel sums in another order
