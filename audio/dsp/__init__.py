"""Compiled (numba) DSP for the channel strip, the effect buses and the master limiter.

A package by effect: `constants` (control-array columns and defaults), `simd` (F64x4/F64x2
vectors as LLVM intrinsics), `biquad` (filter coefficients), `strip` (EQ/filters, fader/pan,
sends, stem sum), `reverb`, `delay`, `limiter`, `master` (gain ramp without the limiter, meters).
The names the rest of Encore uses are re-exported here: `from audio import dsp; dsp.strip_mix`.

Everything is a plain function over preallocated arrays: no allocation, no Python objects,
no locks, so it is callable from the audio callback. All state is float64.

Determinism: every loop runs sample by sample in a fixed order (numba compiles without fast-math,
so LLVM neither reassociates sums nor contracts multiply-adds), and nothing depends on where a
block boundary falls *when the controls are constant*. So an offline render gives the same
samples for any block size. (Control changes ramp across the block in which they arrive, so a
*moving* control is block-size dependent, as in any block-based engine.)

Layout: the strip works on "lanes", lane = 2 * stem + channel, stored last (contiguous) in the
state and coefficient arrays, and computes two stems (4 lanes) at a time with explicit F64x4
vectors (audio/dsp/simd.py: LLVM's auto-vectoriser does not manage these loops, and an
element of an IEEE vector operation is bit-identical to the scalar operation). Biquads are
transposed direct form II with normalised coefficients (b0, b1, b2, a1, a2), the same
convention as one row of a scipy `sos` (b0, b1, b2, 1, a1, a2), so `scipy.signal.sosfilt` is
an exact reference.

Denormals: filter, reverb and delay states are flushed to 0 below 1e-30 on every sample (a
decaying tail otherwise walks into subnormals, which cost ~100x on x86).

Kernel names (audio/kernel_signatures.py, the ahead-of-time build) are those of the defining
module: `audio.dsp.strip.strip_mix`.
"""

from __future__ import annotations

from audio.dsp.biquad import biquad_coefs, stem_sos
from audio.dsp.constants import (
    _STRIP_PARAM_OF_STAGE,
    B_BPM,
    B_DLY_BEATS,
    B_DLY_FEEDBACK,
    B_DLY_WET,
    B_REV_DAMP,
    B_REV_SIZE,
    B_REV_WET,
    BUS_DEFAULTS,
    BUTTERWORTH_Q,
    EQ_HIGH_HZ,
    EQ_LOW_HZ,
    EQ_MID_HZ,
    EQ_MID_Q,
    HP_OFF_HZ,
    LP_OFF_HZ,
    MAX_DELAY_SECONDS,
    N_BUS,
    N_STAGES,
    N_STRIP,
    P_EQ_HIGH,
    P_EQ_LOW,
    P_EQ_MID,
    P_HP,
    P_LP,
    P_SEND_DELAY,
    P_SEND_REVERB,
    SHELF_SLOPE,
    STAGE_HIGH,
    STAGE_HP,
    STAGE_LOW,
    STAGE_LP,
    STAGE_MID,
    STRIP_DEFAULTS,
)
from audio.dsp.delay import delay
from audio.dsp.limiter import (
    LIMITER_CEILING_DBTP,
    LIMITER_LOOKAHEAD,
    LIMITER_MARGIN_DB,
    LIMITER_RELEASE_S,
    TP_DELAY,
    TP_OVERSAMPLE,
    TP_TAPS,
    LimiterParams,
    LimiterState,
    limiter,
    limiter_latency,
    limiter_lookahead,
    limiter_params,
    limiter_quiet_level,
    limiter_state,
    true_peak_fir,
)
from audio.dsp.master import master_gain, meter
from audio.dsp.reverb import (
    REVERB_INPUT_GAIN,
    ReverbLines,
    add_wet,
    reverb,
    reverb_half,
    reverb_lengths,
    reverb_lines,
)
from audio.dsp.strip import (
    StripState,
    _any_active,
    compute_targets,
    strip_accumulate,
    strip_finish,
    strip_groups,
    strip_mix,
    strip_prepare,
    strip_state,
)

__all__ = [
    "BUS_DEFAULTS",
    "BUTTERWORTH_Q",
    "B_BPM",
    "B_DLY_BEATS",
    "B_DLY_FEEDBACK",
    "B_DLY_WET",
    "B_REV_DAMP",
    "B_REV_SIZE",
    "B_REV_WET",
    "EQ_HIGH_HZ",
    "EQ_LOW_HZ",
    "EQ_MID_HZ",
    "EQ_MID_Q",
    "HP_OFF_HZ",
    "LIMITER_CEILING_DBTP",
    "LIMITER_LOOKAHEAD",
    "LIMITER_MARGIN_DB",
    "LIMITER_RELEASE_S",
    "LP_OFF_HZ",
    "MAX_DELAY_SECONDS",
    "N_BUS",
    "N_STAGES",
    "N_STRIP",
    "P_EQ_HIGH",
    "P_EQ_LOW",
    "P_EQ_MID",
    "P_HP",
    "P_LP",
    "P_SEND_DELAY",
    "P_SEND_REVERB",
    "REVERB_INPUT_GAIN",
    "SHELF_SLOPE",
    "STAGE_HIGH",
    "STAGE_HP",
    "STAGE_LOW",
    "STAGE_LP",
    "STAGE_MID",
    "STRIP_DEFAULTS",
    "TP_DELAY",
    "TP_OVERSAMPLE",
    "TP_TAPS",
    "_STRIP_PARAM_OF_STAGE",
    "LimiterParams",
    "LimiterState",
    "ReverbLines",
    "StripState",
    "_any_active",
    "add_wet",
    "biquad_coefs",
    "compute_targets",
    "delay",
    "limiter",
    "limiter_latency",
    "limiter_lookahead",
    "limiter_params",
    "limiter_quiet_level",
    "limiter_state",
    "master_gain",
    "meter",
    "reverb",
    "reverb_half",
    "reverb_lengths",
    "reverb_lines",
    "stem_sos",
    "strip_accumulate",
    "strip_finish",
    "strip_groups",
    "strip_mix",
    "strip_prepare",
    "strip_state",
    "true_peak_fir",
]
