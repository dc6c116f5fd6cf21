"""The channel strip: controls -> per-lane targets, then per block the five biquads, fader/pan,
peak, sends and the stem sum, two stems (4 lanes) at a time as F64x4 vectors.

Lane = 2 * stem + channel, stored last (contiguous) in the state and coefficient arrays.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from audio.compiled import kernel, overload, types
from audio.dsp.biquad import biquad_coefs
from audio.dsp.constants import _STRIP_PARAM_OF_STAGE, N_STAGES, N_STRIP, P_SEND_REVERB
from audio.dsp.simd import (
    F64x2,
    F64x4,
    vadd,
    vall_eq,
    vflush,
    vload,
    vload1,
    vmul,
    vpeak,
    vsame,
    vsplat,
    vstems,
    vstemsum,
    vstemsum_sent,
    vstore,
    vstore1,
    vsub,
)

# --------------------------------------------------------------------------- targets


@kernel
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


class StripState(NamedTuple):
    """The strip's state across blocks (`strip_state`), lane = 2 * stem + channel last: what
    the coefficients, faders and sends ramp from (cur) and to (tgt), and the filter state."""

    coef_cur: np.ndarray  # (N_STAGES, 5, L) float64: b0, b1, b2, a1, a2 per stage and lane
    coef_tgt: np.ndarray  # (N_STAGES, 5, L)
    z: np.ndarray  # (N_STAGES, 2, L) float64: each biquad's two state values
    lane_cur: np.ndarray  # (L,) float64: post-fader gain incl. pan
    lane_tgt: np.ndarray  # (L,)
    send_cur: np.ndarray  # (2, L) float64: reverb and delay send levels
    send_tgt: np.ndarray  # (2, L)


def strip_state(n_stems: int) -> StripState:
    """A silent strip for n_stems stems: identity filters, zero gains and sends."""
    lanes = 2 * n_stems
    coef_cur = np.zeros((N_STAGES, 5, lanes))
    coef_cur[:, 0, :] = 1.0
    return StripState(
        coef_cur=coef_cur,
        coef_tgt=coef_cur.copy(),
        z=np.zeros((N_STAGES, 2, lanes)),
        lane_cur=np.zeros(lanes),
        lane_tgt=np.zeros(lanes),
        send_cur=np.zeros((2, lanes)),
        send_tgt=np.zeros((2, lanes)),
    )


@kernel
def _stage_coefs(coef, k, lane, proto):
    c = coef[k]
    return (
        vload(c, 0, lane, proto),
        vload(c, 1, lane, proto),
        vload(c, 2, lane, proto),
        vload(c, 3, lane, proto),
        vload(c, 4, lane, proto),
    )


@kernel
def _stage_deltas(cur, tgt):
    """tgt - cur per coefficient (the ramp's slope; the same value the scalar form computes)."""
    return (
        vsub(tgt[0], cur[0]),
        vsub(tgt[1], cur[1]),
        vsub(tgt[2], cur[2]),
        vsub(tgt[3], cur[3]),
        vsub(tgt[4], cur[4]),
    )


@kernel
def _stage_at(cur, d, r):
    """The ramped coefficients cur + (tgt - cur) * r."""
    return (
        vadd(cur[0], vmul(d[0], r)),
        vadd(cur[1], vmul(d[1], r)),
        vadd(cur[2], vmul(d[2], r)),
        vadd(cur[3], vmul(d[3], r)),
        vadd(cur[4], vmul(d[4], r)),
    )


@kernel
def _biquad(x, z1, z2, c):
    """One transposed-direct-form-II step: (y, z1', z2'), flushed state."""
    y = vadd(vmul(c[0], x), z1)
    v1 = vadd(vsub(vmul(c[1], x), vmul(c[3], y)), z2)
    v2 = vsub(vmul(c[2], x), vmul(c[4], y))
    return y, vflush(v1), vflush(v2)


@kernel
def _strip_sums(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus):
    """One frame of one group's post-fader lanes y onto the stem sum and the sends."""
    zero2 = vsplat(0.0, F64x2)
    m = zero2 if first else vload(mix, t, 0, F64x2)
    vstore(mix, t, 0, vstemsum(m, y))
    if use_rev:
        _send_sum(y, t, r, s0[0], s1[0], 0, first, bus)
    if use_dly:
        _send_sum(y, t, r, s0[1], s1[1], 2, first, bus)


@kernel
def _send_sum(y, t, r, a, b, col, first, bus):
    """One frame of a send: the lanes times their (ramped) send level onto bus[t, col:col + 2]."""
    # No lane ramping (loop-invariant): a itself, which is what vsame would give.
    level = a if vall_eq(a, b) else vsame(a, b, a, vadd(a, vmul(vsub(b, a), r)))
    acc = vsplat(0.0, F64x2) if first else vload(bus, t, col, F64x2)
    vstore(bus, t, col, vstemsum_sent(acc, vmul(y, level), a, b))


def _deliver(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """Stub: see _deliver_impl (chosen at compile time by the type of xs)."""


@overload(_deliver)
def _deliver_impl(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """A group's post-fader frame onto the stem sum and sends (xs None), or into xs[t, xl:]
    (deferred sums). A compile-time choice: a run-time branch here costs ~40 % of the strip."""
    if isinstance(xs, types.NoneType):

        def direct(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
            _strip_sums(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus)

        return direct

    def deferred(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
        vstore(xs, t, xl, y)

    return deferred


@kernel
def _strip_post(y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """Fader (ramped) and peak of one frame of one group of lanes, then _deliver."""
    y = vmul(y, vadd(g_cur, vmul(g_d, r))) if ramp_g else vmul(y, g_cur)
    pk = vpeak(pk, y)
    _deliver(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl)
    return pk


@kernel
def _strip_group(
    block, s, n, st, ramp_coef, act, ramp_g, use_rev, use_dly, mix, bus, lane_peak, xs, xl, proto
):
    """The whole strip for the lanes of stem s (and s + 1 if proto is F64x4), frame by frame:
    the five biquads with their state in registers, fader, peak, and their share of the stem
    sum and the sends, accumulated onto mix / bus in stem order (stem 0 starts the sums at
    0.0). With an array xs the post-fader lanes go to xs[:, xl:] instead (strip_accumulate)."""
    coef_cur, coef_tgt, z = st.coef_cur, st.coef_tgt, st.z
    lane_cur, lane_tgt, send_cur, send_tgt = st.lane_cur, st.lane_tgt, st.send_cur, st.send_tgt
    lane = 2 * s
    first = s == 0
    inv_n = 1.0 / n
    a0, a1, a2, a3, a4 = act
    k0 = _stage_coefs(coef_cur, 0, lane, proto)
    k1 = _stage_coefs(coef_cur, 1, lane, proto)
    k2 = _stage_coefs(coef_cur, 2, lane, proto)
    k3 = _stage_coefs(coef_cur, 3, lane, proto)
    k4 = _stage_coefs(coef_cur, 4, lane, proto)
    z10 = vload(z[0], 0, lane, proto)
    z20 = vload(z[0], 1, lane, proto)
    z11 = vload(z[1], 0, lane, proto)
    z21 = vload(z[1], 1, lane, proto)
    z12 = vload(z[2], 0, lane, proto)
    z22 = vload(z[2], 1, lane, proto)
    z13 = vload(z[3], 0, lane, proto)
    z23 = vload(z[3], 1, lane, proto)
    z14 = vload(z[4], 0, lane, proto)
    z24 = vload(z[4], 1, lane, proto)
    g_cur = vload1(lane_cur, lane, proto)
    g_d = vsub(vload1(lane_tgt, lane, proto), g_cur)
    s0 = (vload(send_cur, 0, lane, proto), vload(send_cur, 1, lane, proto))
    s1 = (vload(send_tgt, 0, lane, proto), vload(send_tgt, 1, lane, proto))
    pk = vsplat(0.0, proto)
    if ramp_coef:
        d0 = _stage_deltas(k0, _stage_coefs(coef_tgt, 0, lane, proto))
        d1 = _stage_deltas(k1, _stage_coefs(coef_tgt, 1, lane, proto))
        d2 = _stage_deltas(k2, _stage_coefs(coef_tgt, 2, lane, proto))
        d3 = _stage_deltas(k3, _stage_coefs(coef_tgt, 3, lane, proto))
        d4 = _stage_deltas(k4, _stage_coefs(coef_tgt, 4, lane, proto))
        for t in range(n):
            r = vsplat((t + 1) * inv_n, proto)
            y = vstems(block, s, t, proto)
            if a0:
                y, z10, z20 = _biquad(y, z10, z20, _stage_at(k0, d0, r))
            if a1:
                y, z11, z21 = _biquad(y, z11, z21, _stage_at(k1, d1, r))
            if a2:
                y, z12, z22 = _biquad(y, z12, z22, _stage_at(k2, d2, r))
            if a3:
                y, z13, z23 = _biquad(y, z13, z23, _stage_at(k3, d3, r))
            if a4:
                y, z14, z24 = _biquad(y, z14, z24, _stage_at(k4, d4, r))
            pk = _strip_post(
                y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl
            )
    else:
        for t in range(n):
            r = vsplat((t + 1) * inv_n, proto)
            y = vstems(block, s, t, proto)
            if a0:
                y, z10, z20 = _biquad(y, z10, z20, k0)
            if a1:
                y, z11, z21 = _biquad(y, z11, z21, k1)
            if a2:
                y, z12, z22 = _biquad(y, z12, z22, k2)
            if a3:
                y, z13, z23 = _biquad(y, z13, z23, k3)
            if a4:
                y, z14, z24 = _biquad(y, z14, z24, k4)
            pk = _strip_post(
                y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl
            )
    vstore(z[0], 0, lane, z10)
    vstore(z[0], 1, lane, z20)
    vstore(z[1], 0, lane, z11)
    vstore(z[1], 1, lane, z21)
    vstore(z[2], 0, lane, z12)
    vstore(z[2], 1, lane, z22)
    vstore(z[3], 0, lane, z13)
    vstore(z[3], 1, lane, z23)
    vstore(z[4], 0, lane, z14)
    vstore(z[4], 1, lane, z24)
    vstore1(lane_peak, lane, pk)


@kernel(nogil=True)
def strip_prepare(n_stems, st, ramp_coef, stage_on):
    """(act, ramp_g) for strip_groups: which stages run (a stage is skipped, its state zeroed,
    when it is the identity on every lane and not ramping away from an active one), and
    whether any lane's fader ramps."""
    coef_cur, lane_cur, lane_tgt = st.coef_cur, st.lane_cur, st.lane_tgt
    lanes = 2 * n_stems
    act = (
        stage_on[0] or (ramp_coef and _any_active(coef_cur[0], lanes)),
        stage_on[1] or (ramp_coef and _any_active(coef_cur[1], lanes)),
        stage_on[2] or (ramp_coef and _any_active(coef_cur[2], lanes)),
        stage_on[3] or (ramp_coef and _any_active(coef_cur[3], lanes)),
        stage_on[4] or (ramp_coef and _any_active(coef_cur[4], lanes)),
    )
    ramp_g = False
    for lane in range(lanes):
        if lane_cur[lane] != lane_tgt[lane]:
            ramp_g = True
    return act, ramp_g


@kernel(nogil=True)
def strip_groups(
    block, n, s_lo, s_hi, st, ramp_coef, act, ramp_g, use_rev, use_dly, mix, bus, lane_peak, xs
):
    """The strip of stems [s_lo, s_hi): two at a time (F64x4), an odd last one as F64x2.

    xs None: their stem sum and sends are accumulated onto mix / bus (which must already hold
    stems [0, s_lo)). xs an array: their post-fader lanes go to xs[:, 0 : 2 * (s_hi - s_lo)]
    for strip_accumulate, so this can run on another thread while stems [0, s_lo) run."""
    s = s_lo
    while s + 2 <= s_hi:
        xl = 2 * (s - s_lo)
        _strip_group(
            block, s, n, st, ramp_coef, act, ramp_g, use_rev, use_dly, mix, bus, lane_peak, xs,
            xl, F64x4,
        )  # fmt: skip
        s += 2
    if s < s_hi:
        xl = 2 * (s - s_lo)
        _strip_group(
            block, s, n, st, ramp_coef, act, ramp_g, use_rev, use_dly, mix, bus, lane_peak, xs,
            xl, F64x2,
        )  # fmt: skip


@kernel
def _accumulate_group(n, s, s_lo, xs, st, use_rev, use_dly, mix, bus, proto):
    send_cur, send_tgt = st.send_cur, st.send_tgt
    lane = 2 * s
    inv_n = 1.0 / n
    s0 = (vload(send_cur, 0, lane, proto), vload(send_cur, 1, lane, proto))
    s1 = (vload(send_tgt, 0, lane, proto), vload(send_tgt, 1, lane, proto))
    xl = 2 * (s - s_lo)
    for t in range(n):
        r = vsplat((t + 1) * inv_n, proto)
        _strip_sums(vload(xs, t, xl, proto), t, r, s0, s1, s == 0, use_rev, use_dly, mix, bus)


@kernel(nogil=True)
def strip_accumulate(n, s_lo, s_hi, xs, st, use_rev, use_dly, mix, bus):
    """The deferred sums of strip_groups(xs=array): stems [s_lo, s_hi) onto mix / bus, in
    stem order, with the same grouping and the same operations as the direct path."""
    s = s_lo
    while s + 2 <= s_hi:
        _accumulate_group(n, s, s_lo, xs, st, use_rev, use_dly, mix, bus, F64x4)
        s += 2
    if s < s_hi:
        _accumulate_group(n, s, s_lo, xs, st, use_rev, use_dly, mix, bus, F64x2)


@kernel(nogil=True)
def strip_finish(n_stems, act, ramp_coef, st):
    """After the block: zero the state of skipped stages, and cur = tgt for every ramp."""
    coef_cur, coef_tgt, z = st.coef_cur, st.coef_tgt, st.z
    lane_cur, lane_tgt, send_cur, send_tgt = st.lane_cur, st.lane_tgt, st.send_cur, st.send_tgt
    lanes = 2 * n_stems
    for k in range(N_STAGES):
        if not act[k]:
            for lane in range(lanes):
                z[k, 0, lane] = 0.0
                z[k, 1, lane] = 0.0
    if ramp_coef:
        for k in range(N_STAGES):
            for i in range(5):
                for lane in range(lanes):
                    coef_cur[k, i, lane] = coef_tgt[k, i, lane]
    for lane in range(lanes):
        lane_cur[lane] = lane_tgt[lane]
        send_cur[0, lane] = send_tgt[0, lane]
        send_cur[1, lane] = send_tgt[1, lane]


@kernel
def strip_mix(block, n, st, ramp_coef, stage_on, mix, bus, use_rev, use_dly, lane_peak):
    """Filters, fader/pan, sends and the stem sum for one block.

    block (S, 2, >=n) float32 in; mix (>=n, 2) and bus (>=n, 4) float64 out (bus = reverb L/R,
    delay L/R; written only for the sends in use). Coefficients, gains and sends ramp linearly
    from cur to tgt across the block, reaching tgt on its last frame; afterwards cur = tgt.
    lane_peak (L,) gets the post-fader peak of each lane.

    Per lane and frame this computes exactly what the scalar reference in tests/test_dsp.py
    (`strip_mix_reference`) does: the biquad stages in order, the post-fader signal, and the
    sums over stems in stem order starting from 0.0. Stems are processed two at a time (F64x4
    vectors), all stages fused per frame with the filter state in registers; the sums are
    accumulated group by group onto mix / bus, which is the same sequence of additions.
    """
    n_stems = block.shape[0]
    act, ramp_g = strip_prepare(n_stems, st, ramp_coef, stage_on)
    strip_groups(
        block, n, 0, n_stems, st, ramp_coef, act, ramp_g, use_rev, use_dly, mix, bus, lane_peak,
        None,
    )  # fmt: skip
    strip_finish(n_stems, act, ramp_coef, st)


@kernel
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
