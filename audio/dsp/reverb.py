"""The reverb bus: Freeverb (8 damped combs + 4 allpasses per channel), combs as F64x4."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from audio.compiled import kernel
from audio.dsp.constants import _FLUSH
from audio.dsp.simd import (
    F64x4,
    vadd,
    vgather,
    vload1,
    vmul,
    vrows,
    vscatter,
    vsplat,
    vstore1,
    vstore_rows,
    vsum_into,
    vtranspose,
    vzero_small,
)

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


@kernel
def _comb_step(out, st, inp, d1v, d2v, fb):
    """One frame of four combs: (new damping state, value written back to the line)."""
    st = vzero_small(vadd(vmul(out, d2v), vmul(st, d1v)))
    return st, vadd(inp, vmul(st, fb))


@kernel
def _allpass(ap_buf, o, acc):
    bo = ap_buf[o]
    y = bo - acc
    v = acc + bo * 0.5
    ap_buf[o] = v if abs(v) > _FLUSH else 0.0
    return y


class ReverbLines(NamedTuple):
    """The reverb's delay lines (`reverb_lines`): 16 combs and 8 allpasses (left channel's
    first) in two flat buffers, each line at its offset, with its length and read position."""

    comb_buf: np.ndarray  # float64: every comb line, one after the other
    comb_off: np.ndarray  # (16,) int64: where each comb line starts in comb_buf
    comb_len: np.ndarray  # (16,) int64: its length
    comb_idx: np.ndarray  # (16,) int64: its position
    comb_store: np.ndarray  # (16,) float64: each comb's damping filter state
    ap_buf: np.ndarray  # float64: every allpass line
    ap_off: np.ndarray  # (8,) int64
    ap_len: np.ndarray  # (8,) int64
    ap_idx: np.ndarray  # (8,) int64


def reverb_lines(sr: int) -> ReverbLines:
    """Silent delay lines for the reverb at sample rate `sr` (lengths: reverb_lengths)."""
    comb_len, ap_len = reverb_lengths(sr)
    return ReverbLines(
        comb_buf=np.zeros(int(comb_len.sum())),
        comb_off=np.concatenate([[0], np.cumsum(comb_len)[:-1]]).astype(np.int64),
        comb_len=comb_len,
        comb_idx=np.zeros(comb_len.size, dtype=np.int64),
        comb_store=np.zeros(comb_len.size),
        ap_buf=np.zeros(int(ap_len.sum())),
        ap_off=np.concatenate([[0], np.cumsum(ap_len)[:-1]]).astype(np.int64),
        ap_len=ap_len,
        ap_idx=np.zeros(ap_len.size, dtype=np.int64),
    )


@kernel(nogil=True)
def reverb_half(bus, n, c, wet_out, lines, size, damp, wet):
    """Freeverb, one channel c: 8 damped combs in parallel then 4 allpasses on the (mono-summed)
    reverb send bus[:, 0:2], the wet signal into wet_out[:n]. Returns this channel's output peak.

    The channels share only the input, so the two can run on two threads (offline) or one after
    the other (`reverb`, live) with the same bits. Two passes, each in runs of frames in which no
    delay line wraps (so every line's position is base + t): the combs as F64x4 vectors with
    their damping state in registers, then the allpass chain. Per line and frame the arithmetic
    is the scalar Freeverb's, in the same order (each line only touches its own buffer, so
    running all combs before the allpasses changes nothing)."""
    comb_buf, comb_off, comb_len = lines.comb_buf, lines.comb_off, lines.comb_len
    comb_idx, comb_store = lines.comb_idx, lines.comb_store
    ap_buf, ap_off, ap_len, ap_idx = lines.ap_buf, lines.ap_off, lines.ap_len, lines.ap_idx
    feedback = size * 0.28 + 0.7
    d1 = damp * 0.4
    d2 = 1.0 - d1
    fb = vsplat(feedback, F64x4)
    d1v = vsplat(d1, F64x4)
    d2v = vsplat(d2, F64x4)
    cb = 8 * c
    ab = 4 * c
    st0 = vload1(comb_store, cb, F64x4)
    st1 = vload1(comb_store, cb + 4, F64x4)
    quad = True
    for j in range(cb, cb + 8):
        if comb_len[j] < 4:
            quad = False
    t0 = 0
    while t0 < n:
        m = n - t0
        for j in range(cb, cb + 8):
            m = min(m, comb_len[j] - comb_idx[j])
        b = (
            comb_off[cb] + comb_idx[cb] - t0, comb_off[cb + 1] + comb_idx[cb + 1] - t0,
            comb_off[cb + 2] + comb_idx[cb + 2] - t0, comb_off[cb + 3] + comb_idx[cb + 3] - t0,
            comb_off[cb + 4] + comb_idx[cb + 4] - t0, comb_off[cb + 5] + comb_idx[cb + 5] - t0,
            comb_off[cb + 6] + comb_idx[cb + 6] - t0, comb_off[cb + 7] + comb_idx[cb + 7] - t0,
        )  # fmt: skip
        t = t0
        while quad and t + 4 <= t0 + m:  # four frames at a time, as in `reverb`
            i0 = vsplat((bus[t, 0] + bus[t, 1]) * REVERB_INPUT_GAIN, F64x4)
            i1 = vsplat((bus[t + 1, 0] + bus[t + 1, 1]) * REVERB_INPUT_GAIN, F64x4)
            i2 = vsplat((bus[t + 2, 0] + bus[t + 2, 1]) * REVERB_INPUT_GAIN, F64x4)
            i3 = vsplat((bus[t + 3, 0] + bus[t + 3, 1]) * REVERB_INPUT_GAIN, F64x4)
            rows = vrows(comb_buf, b, t)
            a0, a1, a2, a3 = vtranspose(rows[0], rows[1], rows[2], rows[3])
            b0, b1, b2, b3 = vtranspose(rows[4], rows[5], rows[6], rows[7])
            st0, w0a = _comb_step(a0, st0, i0, d1v, d2v, fb)
            st1, w0b = _comb_step(b0, st1, i0, d1v, d2v, fb)
            st0, w1a = _comb_step(a1, st0, i1, d1v, d2v, fb)
            st1, w1b = _comb_step(b1, st1, i1, d1v, d2v, fb)
            st0, w2a = _comb_step(a2, st0, i2, d1v, d2v, fb)
            st1, w2b = _comb_step(b2, st1, i2, d1v, d2v, fb)
            st0, w3a = _comb_step(a3, st0, i3, d1v, d2v, fb)
            st1, w3b = _comb_step(b3, st1, i3, d1v, d2v, fb)
            wa = vtranspose(w0a, w1a, w2a, w3a)
            wb = vtranspose(w0b, w1b, w2b, w3b)
            vstore_rows(comb_buf, b, t, (wa[0], wa[1], wa[2], wa[3], wb[0], wb[1], wb[2], wb[3]))
            acc = vsplat(0.0, F64x4)
            for j in range(8):
                acc = vadd(acc, rows[j])
            vstore1(wet_out, t, acc)
            t += 4
        while t < t0 + m:
            inp = vsplat((bus[t, 0] + bus[t, 1]) * REVERB_INPUT_GAIN, F64x4)
            o0, o1 = vgather(comb_buf, b, t)
            st0 = vzero_small(vadd(vmul(o0, d2v), vmul(st0, d1v)))
            st1 = vzero_small(vadd(vmul(o1, d2v), vmul(st1, d1v)))
            vscatter(comb_buf, b, t, (vadd(inp, vmul(st0, fb)), vadd(inp, vmul(st1, fb))))
            wet_out[t] = vsum_into(vsum_into(0.0, o0), o1)
            t += 1
        for j in range(cb, cb + 8):
            i = comb_idx[j] + m
            comb_idx[j] = 0 if i >= comb_len[j] else i
        t0 += m
    vstore1(comb_store, cb, st0)
    vstore1(comb_store, cb + 4, st1)
    peak = 0.0
    t0 = 0
    while t0 < n:
        m = n - t0
        for j in range(ab, ab + 4):
            m = min(m, ap_len[j] - ap_idx[j])
        p0 = ap_off[ab] + ap_idx[ab] - t0
        p1 = ap_off[ab + 1] + ap_idx[ab + 1] - t0
        p2 = ap_off[ab + 2] + ap_idx[ab + 2] - t0
        p3 = ap_off[ab + 3] + ap_idx[ab + 3] - t0
        for t in range(t0, t0 + m):
            a = wet_out[t]
            a = _allpass(ap_buf, p0 + t, a)
            a = _allpass(ap_buf, p1 + t, a)
            a = _allpass(ap_buf, p2 + t, a)
            a = _allpass(ap_buf, p3 + t, a)
            w = a * wet
            wet_out[t] = w
            if abs(w) > peak:
                peak = abs(w)
        for j in range(ab, ab + 4):
            i = ap_idx[j] + m
            ap_idx[j] = 0 if i >= ap_len[j] else i
        t0 += m
    return peak


@kernel(nogil=True)
def add_wet(mix, n, wet_out):
    """mix[t, c] += wet_out[c, t]: the reverb's wet channels into the mix."""
    for t in range(n):
        mix[t, 0] += wet_out[0, t]
        mix[t, 1] += wet_out[1, t]


@kernel
def reverb(bus, n, mix, wet_out, lines, size, damp, wet):
    """Both channels of `reverb_half` on this thread, wet added to mix (wet_out (2, >= n) is
    scratch). Returns the block's output peak."""
    p0 = reverb_half(bus, n, 0, wet_out[0], lines, size, damp, wet)
    p1 = reverb_half(bus, n, 1, wet_out[1], lines, size, damp, wet)
    add_wet(mix, n, wet_out)
    return max(p0, p1)
