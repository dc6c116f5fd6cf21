"""Compiled (numba) DSP for the channel strip, the effect buses and the master limiter.

Everything here is a plain function over preallocated arrays: no allocation, no Python objects,
no locks, so it is callable from the audio callback. All state is float64.

Determinism: every loop runs sample by sample in a fixed order (numba compiles without fast-math,
so LLVM neither reassociates sums nor contracts multiply-adds), and nothing depends on where a
block boundary falls *when the controls are constant*. So an offline render gives the same
samples for any block size. (Control changes ramp across the block in which they arrive, so a
*moving* control is block-size dependent, as in any block-based engine.)

Layout: the strip works on "lanes", lane = 2 * stem + channel, stored last (contiguous) so the
per-sample loops over lanes vectorise. Biquads are transposed direct form II with normalised
coefficients (b0, b1, b2, a1, a2), the same convention as one row of a scipy `sos`
(b0, b1, b2, 1, a1, a2), so `scipy.signal.sosfilt` is an exact reference.

Denormals: filter, reverb and delay states are flushed to 0 below 1e-30 on every sample (a
decaying tail otherwise walks into subnormals, which cost ~100x on x86).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --------------------------------------------------------------------------- strip layout

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


# --------------------------------------------------------------------------- coefficients


@njit(cache=True)
def _identity(out):
    out[0] = 1.0
    out[1] = 0.0
    out[2] = 0.0
    out[3] = 0.0
    out[4] = 0.0


@njit(cache=True)
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


_STRIP_PARAM_OF_STAGE = np.array([P_HP, P_EQ_LOW, P_EQ_MID, P_EQ_HIGH, P_LP])


def stem_sos(strip_row: np.ndarray, sr: float) -> np.ndarray:
    """The (5, 6) scipy `sos` of one stem's filter chain (HP, low, mid, high, LP), for tests and
    offline analysis: exactly the coefficients the engine uses."""
    sos = np.zeros((N_STAGES, 6))
    tmp = np.zeros(5)
    for k in range(N_STAGES):
        biquad_coefs(k, float(strip_row[_STRIP_PARAM_OF_STAGE[k]]), float(sr), tmp)
        sos[k] = [tmp[0], tmp[1], tmp[2], 1.0, tmp[3], tmp[4]]
    return sos


# --------------------------------------------------------------------------- targets


@njit(cache=True)
def compute_targets(
    gain_db, pan, mute, solo, strip, sr, strip_last, coef_tgt, stage_on, lane_tgt, send_tgt, tmp
):
    """Controls -> per-lane targets. Returns True when the filter coefficients changed.

    lane_tgt (L,): post-fader stem gain incl. equal-power pan (master excluded).
    send_tgt (2, L): send level (reverb, delay) applied to the post-fader lane signal.
    tmp (5,) scratch. Returns 1 when coefficients changed, + 2 if any reverb send is non-zero,
    + 4 if any delay send is non-zero.
    coef_tgt (5, 5, L) is recomputed only for stems whose strip parameters changed.
    """
    n = gain_db.shape[0]
    any_solo = False
    for s in range(n):
        if solo[s]:
            any_solo = True
    quarter_pi = math.pi / 4.0
    cos_c = math.cos(quarter_pi)
    sin_c = math.sin(quarter_pi)
    changed = False
    sends = 0
    for s in range(n):
        lin = 0.0
        if gain_db[s] > -96.0 and not mute[s] and (solo[s] or not any_solo):
            lin = 10.0 ** (gain_db[s] / 20.0)
        p = min(1.0, max(-1.0, pan[s]))
        theta = (p + 1.0) * quarter_pi
        gl = math.cos(theta) * lin / cos_c
        gr = math.sin(theta) * lin / sin_c
        lane_tgt[2 * s] = gl
        lane_tgt[2 * s + 1] = gr
        for j in range(2):
            level = strip[s, P_SEND_REVERB + j]
            send_tgt[j, 2 * s] = level
            send_tgt[j, 2 * s + 1] = level
            if level != 0.0 and lin != 0.0:
                sends |= 2 << j
        same = True
        for j in range(N_STRIP - 2):
            if strip[s, j] != strip_last[s, j]:
                same = False
        if not same:
            changed = True
            for j in range(N_STRIP):
                strip_last[s, j] = strip[s, j]
            for k in range(N_STAGES):
                biquad_coefs(k, strip[s, _STRIP_PARAM_OF_STAGE[k]], sr, tmp)
                for i in range(5):
                    coef_tgt[k, i, 2 * s] = tmp[i]
                    coef_tgt[k, i, 2 * s + 1] = tmp[i]
    if changed:
        for k in range(N_STAGES):
            on = False
            for lane in range(2 * n):
                if (
                    coef_tgt[k, 0, lane] != 1.0
                    or coef_tgt[k, 1, lane] != 0.0
                    or coef_tgt[k, 2, lane] != 0.0
                    or coef_tgt[k, 3, lane] != 0.0
                    or coef_tgt[k, 4, lane] != 0.0
                ):
                    on = True
            stage_on[k] = on
    return (1 if changed else 0) | sends


# --------------------------------------------------------------------------- the strip


@njit(cache=True)
def strip_mix(
    block,
    n,
    x,
    coef_cur,
    coef_tgt,
    ramp_coef,
    stage_on,
    z,
    lane_cur,
    lane_tgt,
    send_cur,
    send_tgt,
    mix,
    bus,
    use_rev,
    use_dly,
    lane_peak,
):
    """Filters, fader/pan, sends and the stem sum for one block.

    block (S, 2, >=n) float32 in; x (>=n, L) float64 scratch; mix (>=n, 2) and bus (>=n, 4)
    float64 out (bus = reverb L/R, delay L/R). Coefficients, gains and sends ramp linearly
    from cur to tgt across the block, reaching tgt on its last frame; afterwards cur = tgt.
    lane_peak (L,) gets the post-fader peak of each lane.
    """
    n_stems = block.shape[0]
    lanes = 2 * n_stems
    inv_n = 1.0 / n
    for s in range(n_stems):
        for c in range(2):
            lane = 2 * s + c
            for t in range(n):
                x[t, lane] = block[s, c, t]
    # -- filters: stage by stage, sample by sample, vectorised across lanes
    for k in range(N_STAGES):
        z1 = z[k, 0]
        z2 = z[k, 1]
        if not stage_on[k] and not (ramp_coef and _any_active(coef_cur[k], lanes)):
            for lane in range(lanes):
                z1[lane] = 0.0
                z2[lane] = 0.0
            continue
        cb0, cb1, cb2, ca1, ca2 = (
            coef_cur[k, 0],
            coef_cur[k, 1],
            coef_cur[k, 2],
            coef_cur[k, 3],
            coef_cur[k, 4],
        )
        if ramp_coef:
            tb0, tb1, tb2, ta1, ta2 = (
                coef_tgt[k, 0],
                coef_tgt[k, 1],
                coef_tgt[k, 2],
                coef_tgt[k, 3],
                coef_tgt[k, 4],
            )
            for t in range(n):
                r = (t + 1) * inv_n
                for lane in range(lanes):
                    b0 = cb0[lane] + (tb0[lane] - cb0[lane]) * r
                    b1 = cb1[lane] + (tb1[lane] - cb1[lane]) * r
                    b2 = cb2[lane] + (tb2[lane] - cb2[lane]) * r
                    a1 = ca1[lane] + (ta1[lane] - ca1[lane]) * r
                    a2 = ca2[lane] + (ta2[lane] - ca2[lane]) * r
                    xi = x[t, lane]
                    y = b0 * xi + z1[lane]
                    v1 = b1 * xi - a1 * y + z2[lane]
                    v2 = b2 * xi - a2 * y
                    z1[lane] = v1 if abs(v1) > _FLUSH else 0.0
                    z2[lane] = v2 if abs(v2) > _FLUSH else 0.0
                    x[t, lane] = y
        else:
            for t in range(n):
                for lane in range(lanes):
                    xi = x[t, lane]
                    y = cb0[lane] * xi + z1[lane]
                    v1 = cb1[lane] * xi - ca1[lane] * y + z2[lane]
                    v2 = cb2[lane] * xi - ca2[lane] * y
                    z1[lane] = v1 if abs(v1) > _FLUSH else 0.0
                    z2[lane] = v2 if abs(v2) > _FLUSH else 0.0
                    x[t, lane] = y
    if ramp_coef:
        for k in range(N_STAGES):
            for i in range(5):
                for lane in range(lanes):
                    coef_cur[k, i, lane] = coef_tgt[k, i, lane]
    # -- fader / pan (post-fader lane signal into x), peaks
    ramp_g = False
    for lane in range(lanes):
        if lane_cur[lane] != lane_tgt[lane]:
            ramp_g = True
        lane_peak[lane] = 0.0
    for t in range(n):
        if ramp_g:
            r = (t + 1) * inv_n
            for lane in range(lanes):
                g = lane_cur[lane] + (lane_tgt[lane] - lane_cur[lane]) * r
                x[t, lane] = x[t, lane] * g
        else:
            for lane in range(lanes):
                x[t, lane] = x[t, lane] * lane_cur[lane]
        for lane in range(lanes):
            a = abs(x[t, lane])
            if a > lane_peak[lane]:
                lane_peak[lane] = a
    # -- the stem sum: stems in a fixed order per frame, vectorised across frames
    for t in range(n):
        m0 = 0.0
        m1 = 0.0
        for s in range(n_stems):
            m0 += x[t, 2 * s]
            m1 += x[t, 2 * s + 1]
        mix[t, 0] = m0
        mix[t, 1] = m1
    # -- sends (post-fader): the send gain relative to the fader, ramped
    for j in range(2):
        if (j == 0 and not use_rev) or (j == 1 and not use_dly):
            continue
        col = 2 * j
        for t in range(n):
            bus[t, col] = 0.0
            bus[t, col + 1] = 0.0
        for lane in range(lanes):
            c = lane & 1
            s0 = send_cur[j, lane]
            s1 = send_tgt[j, lane]
            if s0 == 0.0 and s1 == 0.0:
                continue
            if s0 == s1:
                for t in range(n):
                    bus[t, col + c] += x[t, lane] * s0
            else:
                for t in range(n):
                    bus[t, col + c] += x[t, lane] * (s0 + (s1 - s0) * ((t + 1) * inv_n))
    for lane in range(lanes):
        lane_cur[lane] = lane_tgt[lane]
        send_cur[0, lane] = send_tgt[0, lane]
        send_cur[1, lane] = send_tgt[1, lane]


@njit(cache=True)
def _any_active(coefs, lanes):
    for lane in range(lanes):
        if (
            coefs[0, lane] != 1.0
            or coefs[1, lane] != 0.0
            or coefs[2, lane] != 0.0
            or coefs[3, lane] != 0.0
            or coefs[4, lane] != 0.0
        ):
            return True
    return False


# --------------------------------------------------------------------------- reverb

# Freeverb (Jezar at Dreampoint, public domain) tunings at 44.1 kHz, scaled to the sample rate.
_COMB_TUNING = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
_ALLPASS_TUNING = (556, 441, 341, 225)
_STEREO_SPREAD = 23
REVERB_INPUT_GAIN = 0.015


def reverb_lengths(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(comb lengths (16,), allpass lengths (8,)): left channel first, right = left + spread."""
    scale = sr / 44100.0
    combs = [max(1, round(n * scale)) for n in _COMB_TUNING]
    combs += [max(1, round((n + _STEREO_SPREAD) * scale)) for n in _COMB_TUNING]
    aps = [max(1, round(n * scale)) for n in _ALLPASS_TUNING]
    aps += [max(1, round((n + _STEREO_SPREAD) * scale)) for n in _ALLPASS_TUNING]
    return np.array(combs, dtype=np.int64), np.array(aps, dtype=np.int64)


@njit(cache=True)
def reverb(
    bus,
    n,
    mix,
    comb_buf,
    comb_off,
    comb_len,
    comb_idx,
    comb_store,
    ap_buf,
    ap_off,
    ap_len,
    ap_idx,
    size,
    damp,
    wet,
):
    """Freeverb: 8 damped combs in parallel then 4 allpasses per channel; the (mono-summed)
    reverb send bus[:, 0:2] in, wet output added to mix. Returns the block's output peak."""
    feedback = size * 0.28 + 0.7
    d1 = damp * 0.4
    d2 = 1.0 - d1
    peak = 0.0
    for t in range(n):
        inp = (bus[t, 0] + bus[t, 1]) * REVERB_INPUT_GAIN
        for c in range(2):
            acc = 0.0
            for j in range(8):
                cj = 8 * c + j
                o = comb_off[cj] + comb_idx[cj]
                out = comb_buf[o]
                st = out * d2 + comb_store[cj] * d1
                if abs(st) < _FLUSH:
                    st = 0.0
                comb_store[cj] = st
                comb_buf[o] = inp + st * feedback
                i = comb_idx[cj] + 1
                comb_idx[cj] = 0 if i >= comb_len[cj] else i
                acc += out
            for j in range(4):
                aj = 4 * c + j
                o = ap_off[aj] + ap_idx[aj]
                bo = ap_buf[o]
                y = bo - acc
                v = acc + bo * 0.5
                ap_buf[o] = v if abs(v) > _FLUSH else 0.0
                i = ap_idx[aj] + 1
                ap_idx[aj] = 0 if i >= ap_len[aj] else i
                acc = y
            w = acc * wet
            mix[t, c] += w
            if abs(w) > peak:
                peak = abs(w)
    return peak


# --------------------------------------------------------------------------- delay


@njit(cache=True)
def delay(bus, n, mix, buf, state, d_tgt, feedback, wet):
    """Stereo feedback delay on the delay send bus[:, 2:4]; wet output added to mix.

    state = [write index, current delay in frames]. A change of delay time crossfades the old
    and the new tap across the block (no jump in the read position, no click). Returns the
    block's output peak.
    """
    size = buf.shape[1]
    w = int(state[0])
    d_cur = int(state[1])
    inv_n = 1.0 / n
    peak = 0.0
    for t in range(n):
        for c in range(2):
            rd = w - d_tgt
            if rd < 0:
                rd += size
            y = buf[c, rd]
            if d_cur != d_tgt:
                rc = w - d_cur
                if rc < 0:
                    rc += size
                r = (t + 1) * inv_n
                y = buf[c, rc] * (1.0 - r) + y * r
            v = bus[t, 2 + c] + y * feedback
            buf[c, w] = v if abs(v) > _FLUSH else 0.0
            o = y * wet
            mix[t, c] += o
            if abs(o) > peak:
                peak = abs(o)
        w += 1
        if w >= size:
            w = 0
    state[0] = w
    state[1] = d_tgt
    return peak


# --------------------------------------------------------------------------- limiter

TP_OVERSAMPLE = 4
TP_TAPS = 97  # odd: the interpolator's centre falls on an input sample (phase 0 = identity)
TP_DELAY = (TP_TAPS - 1) // (2 * TP_OVERSAMPLE)  # 8 input samples
LIMITER_CEILING_DBTP = -1.0
LIMITER_MARGIN_DB = 0.3  # the detector aims this far below the ceiling (detector != meter FIR)
LIMITER_LOOKAHEAD = 48  # frames at 48 kHz = 1 ms; scaled with the sample rate
LIMITER_RELEASE_S = 0.08


def true_peak_fir() -> np.ndarray:
    """(TP_OVERSAMPLE - 1, taps) polyphase interpolator for phases 1..3 (phase 0 is the input)."""
    from scipy.signal import firwin

    h = firwin(TP_TAPS, 1.0 / TP_OVERSAMPLE, window=("kaiser", 7.0)) * TP_OVERSAMPLE
    taps = -(-TP_TAPS // TP_OVERSAMPLE)
    phases = np.zeros((TP_OVERSAMPLE - 1, taps))
    for p in range(1, TP_OVERSAMPLE):
        ph = h[p::TP_OVERSAMPLE]
        phases[p - 1, : ph.size] = ph
    return phases


def limiter_lookahead(sr: int) -> int:
    return max(8, round(LIMITER_LOOKAHEAD * sr / 48000))


def limiter_latency(sr: int) -> int:
    """Frames between the limiter's input and its output."""
    return limiter_lookahead(sr) - 1 + TP_DELAY


@njit(cache=True)
def limiter(
    mix,
    n,
    master_cur,
    master_tgt,
    out,
    fir,
    hist,
    hpos,
    req,
    rpos,
    rel,
    dly,
    ipos,
    ceiling,
    release,
    lstate,
    quiet,
):
    """Master gain ramp + stereo-linked true-peak lookahead limiter; float32 result into out.

    Per input frame: the 4x-oversampled peak (input sample and 3 interpolated phases, both
    channels) gives the gain that frame needs, req = min(1, ceiling / peak). Gain = moving
    average over L frames of (the minimum of req over L + 1 frames, with a one-pole release).
    Each averaged term is <= the requirement of the frame being output and of its neighbour,
    so the output never exceeds the ceiling (up to the detector's interpolation error, covered
    by LIMITER_MARGIN_DB), with no instantaneous gain steps. Below the ceiling the gain is
    exactly 1.0 and the output is the input delayed, bit for bit.

    hist (2, 2 * taps) doubled ring of inputs for the FIR; req (L + 1,) ring of requirements
    (init 1); rel (L,) ring of released minima (init 1); dly (2, latency + 1) ring of delayed
    inputs; their positions in hpos, rpos, ipos (1-element int64 arrays). `release` is the
    one-pole coefficient per frame.

    Speed without changing a bit (most frames of most mixes are below the ceiling):
    lstate = [frames since an input sample above `quiet`, req entries != 1, rel entries != 1].
    `quiet` = ceiling / (the interpolator's largest L1 norm, with a margin for rounding), so
    while every input in the FIR window is at or below it, every interpolated phase is
    provably <= ceiling and the requirement is exactly 1.0: the FIR is skipped. While both
    rings hold only 1.0, the minimum is 1.0 and the sum is exactly L: those loops are skipped.
    Where they run, they run in the original order (sums are not reassociated).
    """
    taps = fir.shape[1]
    n_req = req.shape[0]
    look = rel.shape[0]
    n_dly = dly.shape[1]
    inv_n = 1.0 / n
    inv_look = 1.0 / look
    unity_sum = look * 1.0  # the sum of L ones, exactly
    f0 = fir[0]
    f1 = fir[1]
    f2 = fir[2]
    h = hpos[0]
    rp = rpos[0]
    ip = ipos[0]
    since_hot = lstate[0]
    req_hot = lstate[1]
    rel_hot = lstate[2]
    ramp = master_cur != master_tgt
    for t in range(n):
        m = master_cur
        if ramp:
            m = master_cur + (master_tgt - master_cur) * ((t + 1) * inv_n)
        h -= 1
        if h < 0:
            h = taps - 1
        v0 = mix[t, 0] * m
        v1 = mix[t, 1] * m
        # Doubled ring: hist[c, h + k] is the input k frames ago, for k < taps, unwrapped.
        hist[0, h] = v0
        hist[0, h + taps] = v0
        hist[1, h] = v1
        hist[1, h + taps] = v1
        dly[0, ip] = v0
        dly[1, ip] = v1
        if abs(v0) > quiet or abs(v1) > quiet:
            since_hot = 0
        elif since_hot < taps:
            since_hot += 1
        g_need = 1.0
        if since_hot < taps:
            pk = 0.0
            for c in range(2):
                hc = hist[c]
                # The centre tap lines up with the input delayed by TP_DELAY frames.
                centre = hc[h + TP_DELAY]
                if abs(centre) > pk:
                    pk = abs(centre)
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                for k in range(taps):
                    x = hc[h + k]
                    a0 += f0[k] * x
                    a1 += f1[k] * x
                    a2 += f2[k] * x
                if abs(a0) > pk:
                    pk = abs(a0)
                if abs(a1) > pk:
                    pk = abs(a1)
                if abs(a2) > pk:
                    pk = abs(a2)
            if pk > ceiling:
                g_need = ceiling / pk
        qi = rp % n_req
        if req[qi] != 1.0:
            req_hot -= 1
        if g_need != 1.0:
            req_hot += 1
        req[qi] = g_need
        mn = 1.0
        if req_hot > 0:
            for k in range(n_req):
                if req[k] < mn:
                    mn = req[k]
        prev = rel[(rp - 1) % look]
        r = mn
        if mn > prev:
            r = prev + (mn - prev) * release
            if r > mn:
                r = mn
        li = rp % look
        if rel[li] != 1.0:
            rel_hot -= 1
        if r != 1.0:
            rel_hot += 1
        rel[li] = r
        acc = unity_sum
        if rel_hot > 0:
            acc = 0.0
            for k in range(look):
                acc += rel[k]
        g = acc * inv_look
        rp += 1
        if rp >= n_req * look:
            rp -= n_req * look
        # Output the sample that entered `latency` frames ago.
        op = ip + 1
        if op >= n_dly:
            op = 0
        out[t, 0] = dly[0, op] * g
        out[t, 1] = dly[1, op] * g
        ip = op
    hpos[0] = h
    rpos[0] = rp
    ipos[0] = ip
    lstate[0] = since_hot
    lstate[1] = req_hot
    lstate[2] = rel_hot


def limiter_quiet_level(fir: np.ndarray, ceiling: float) -> float:
    """The input level at or below which no interpolated phase can exceed `ceiling`: the
    ceiling over the largest L1 norm of a phase (>= 1 for the input phase itself), less a
    margin far above the rounding error of a 25-term float64 sum (~1e-14 relative)."""
    l1 = max(1.0, float(np.abs(fir).sum(axis=1).max()))
    return ceiling / (l1 * (1.0 + 1e-9))


@njit(cache=True)
def master_gain(mix, n, master_cur, master_tgt, out):
    """Master gain ramp into the float32 output, without the limiter."""
    inv_n = 1.0 / n
    ramp = master_cur != master_tgt
    for t in range(n):
        m = master_cur
        if ramp:
            m = master_cur + (master_tgt - master_cur) * ((t + 1) * inv_n)
        out[t, 0] = mix[t, 0] * m
        out[t, 1] = mix[t, 1] * m


@njit(cache=True)
def meter(out, n, peak, rms):
    """Peak and RMS per channel of the (>= n, 2) float32 output into the float32 (2,) arrays.

    One compiled pass: numpy's reductions along axis 0 of an (F, 2) array are strided and cost
    ~50 us per call at 4096 frames. The mean square is summed in float64 (meters only: it never
    feeds the audio)."""
    p0 = 0.0
    p1 = 0.0
    s0 = 0.0
    s1 = 0.0
    for t in range(n):
        a = float(out[t, 0])
        b = float(out[t, 1])
        s0 += a * a
        s1 += b * b
        a = abs(a)
        b = abs(b)
        if a > p0:
            p0 = a
        if b > p1:
            p1 = b
    peak[0] = p0
    peak[1] = p1
    inv = 1.0 / n if n > 0 else 0.0
    rms[0] = math.sqrt(s0 * inv)
    rms[1] = math.sqrt(s1 * inv)
