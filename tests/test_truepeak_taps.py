"""The limiter's stored true-peak taps are scipy's design, to the last bit."""

from __future__ import annotations

import numpy as np
from scipy.signal import firwin

from audio import dsp
from audio.truepeak_taps import TAPS, TP_DESIGN


def test_stored_taps_are_scipys_firwin_bit_for_bit():
    d = TP_DESIGN
    h = firwin(d["numtaps"], d["cutoff"], window=d["window"]) * d["gain"]
    assert np.array_equal(np.array(TAPS).view(np.int64), h.view(np.int64))
    assert (d["numtaps"], d["gain"]) == (dsp.TP_TAPS, dsp.TP_OVERSAMPLE)


def test_the_limiter_phases_come_from_them():
    phases = dsp.true_peak_fir()
    h = np.array(TAPS)
    assert phases.shape == (dsp.TP_OVERSAMPLE - 1, -(-dsp.TP_TAPS // dsp.TP_OVERSAMPLE))
    for p in range(1, dsp.TP_OVERSAMPLE):
        row = h[p :: dsp.TP_OVERSAMPLE]
        assert np.array_equal(phases[p - 1, : row.size], row)
        assert not phases[p - 1, row.size :].any()
