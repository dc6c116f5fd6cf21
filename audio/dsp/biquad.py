"""Biquad coefficients of the strip's five filter stages (RBJ cookbook), and their scipy `sos`.

Transposed direct form II with normalised coefficients (b0, b1, b2, a1, a2), the convention of
one row of a scipy `sos` (b0, b1, b2, 1, a1, a2), so `scipy.signal.sosfilt` is an exact
reference for the strip's filters.
"""

from __future__ import annotations

import math

import numpy as np

from audio.compiled import kernel
from audio.dsp.constants import (
    _STRIP_PARAM_OF_STAGE,
    BUTTERWORTH_Q,
    EQ_HIGH_HZ,
    EQ_LOW_HZ,
    EQ_MID_HZ,
    EQ_MID_Q,
    HP_OFF_HZ,
    LP_OFF_HZ,
    N_STAGES,
    SHELF_SLOPE,
    STAGE_HP,
    STAGE_LOW,
    STAGE_LP,
    STAGE_MID,
)


@kernel
def _identity(out):
    out[0] = 1.0
    out[1] = 0.0
    out[2] = 0.0
    out[3] = 0.0
    out[4] = 0.0


@kernel
def biquad_coefs(stage, value, sr, out):
    """RBJ cookbook biquad for `stage` into out = (b0, b1, b2, a1, a2), normalised by a0.

    `value` is the gain in dB for the EQ stages and the cutoff in Hz for HP/LP. A flat EQ band
    (0 dB) and HP <= 20 Hz / LP >= 20 kHz give the exact identity (bypass).
    """
    if stage == STAGE_HP or stage == STAGE_LP:  # noqa: SIM109 (numba-friendly)
        f0 = value
        if (stage == STAGE_HP and f0 <= HP_OFF_HZ) or (
            stage == STAGE_LP and (f0 >= LP_OFF_HZ or f0 >= 0.45 * sr)
        ):
            _identity(out)
            return
        w0 = 2.0 * math.pi * f0 / sr
        cw = math.cos(w0)
        alpha = math.sin(w0) / (2.0 * BUTTERWORTH_Q)
        a0 = 1.0 + alpha
        if stage == STAGE_HP:
            b0 = (1.0 + cw) / 2.0
            b1 = -(1.0 + cw)
        else:
            b0 = (1.0 - cw) / 2.0
            b1 = 1.0 - cw
        b2 = b0
        a1 = -2.0 * cw
        a2 = 1.0 - alpha
    else:
        if value == 0.0:
            _identity(out)
            return
        a = 10.0 ** (value / 40.0)
        if stage == STAGE_MID:
            w0 = 2.0 * math.pi * EQ_MID_HZ / sr
            cw = math.cos(w0)
            alpha = math.sin(w0) / (2.0 * EQ_MID_Q)
            b0 = 1.0 + alpha * a
            b1 = -2.0 * cw
            b2 = 1.0 - alpha * a
            a0 = 1.0 + alpha / a
            a1 = -2.0 * cw
            a2 = 1.0 - alpha / a
        else:
            f0 = EQ_LOW_HZ if stage == STAGE_LOW else EQ_HIGH_HZ
            w0 = 2.0 * math.pi * f0 / sr
            cw = math.cos(w0)
            alpha = math.sin(w0) / 2.0 * math.sqrt((a + 1.0 / a) * (1.0 / SHELF_SLOPE - 1.0) + 2.0)
            sa = 2.0 * math.sqrt(a) * alpha
            if stage == STAGE_LOW:
                b0 = a * ((a + 1.0) - (a - 1.0) * cw + sa)
                b1 = 2.0 * a * ((a - 1.0) - (a + 1.0) * cw)
                b2 = a * ((a + 1.0) - (a - 1.0) * cw - sa)
                a0 = (a + 1.0) + (a - 1.0) * cw + sa
                a1 = -2.0 * ((a - 1.0) + (a + 1.0) * cw)
                a2 = (a + 1.0) + (a - 1.0) * cw - sa
            else:
                b0 = a * ((a + 1.0) + (a - 1.0) * cw + sa)
                b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cw)
                b2 = a * ((a + 1.0) + (a - 1.0) * cw - sa)
                a0 = (a + 1.0) - (a - 1.0) * cw + sa
                a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cw)
                a2 = (a + 1.0) - (a - 1.0) * cw - sa
    out[0] = b0 / a0
    out[1] = b1 / a0
    out[2] = b2 / a0
    out[3] = a1 / a0
    out[4] = a2 / a0


def stem_sos(strip_row: np.ndarray, sr: float) -> np.ndarray:
    """The (5, 6) scipy `sos` of one stem's filter chain (HP, low, mid, high, LP), for tests and
    offline analysis: exactly the coefficients the engine uses."""
    sos = np.zeros((N_STAGES, 6))
    tmp = np.zeros(5)
    for k in range(N_STAGES):
        biquad_coefs(k, float(strip_row[_STRIP_PARAM_OF_STAGE[k]]), float(sr), tmp)
        sos[k] = [tmp[0], tmp[1], tmp[2], 1.0, tmp[3], tmp[4]]
    return sos
