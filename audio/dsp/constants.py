"""The DSP's shared layout: the columns of the strip and bus control arrays, their defaults,
the EQ/filter design constants, and the denormal flush threshold.

The control arrays are plain float64 arrays addressed by these column constants because they
cross from the UI thread to the audio callback (audio.shared) and into compiled kernels as is.
"""

from __future__ import annotations

import math

import numpy as np

N_STAGES = 5
STAGE_HP, STAGE_LOW, STAGE_MID, STAGE_HIGH, STAGE_LP = range(N_STAGES)

# Per-stem strip parameters: columns of the (S, N_STRIP) float64 control array.
N_STRIP = 7
P_EQ_LOW, P_EQ_MID, P_EQ_HIGH, P_HP, P_LP, P_SEND_REVERB, P_SEND_DELAY = range(N_STRIP)
STRIP_DEFAULTS = np.array([0.0, 0.0, 0.0, 20.0, 20000.0, 0.0, 0.0])

EQ_LOW_HZ = 120.0  # low shelf corner
EQ_MID_HZ = 1000.0  # peaking centre
EQ_MID_Q = 0.7
EQ_HIGH_HZ = 6000.0  # high shelf corner
SHELF_SLOPE = 1.0
BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
HP_OFF_HZ = 20.0  # high-pass at or below this: bypassed
LP_OFF_HZ = 20000.0  # low-pass at or above this (or above 0.45 fs): bypassed

# Master bus parameters: the (N_BUS,) float64 control array.
N_BUS = 7
B_REV_SIZE, B_REV_DAMP, B_REV_WET, B_DLY_BEATS, B_DLY_FEEDBACK, B_DLY_WET, B_BPM = range(N_BUS)
BUS_DEFAULTS = np.array([0.5, 0.5, 1.0, 0.75, 0.35, 1.0, 120.0])
MAX_DELAY_SECONDS = 4.0

_FLUSH = 1e-30

_STRIP_PARAM_OF_STAGE = np.array([P_HP, P_EQ_LOW, P_EQ_MID, P_EQ_HIGH, P_LP])
"""The strip column that drives each filter stage (HP, low, mid, high, LP)."""
