"""The master bus without the limiter: the gain ramp into the float32 output, and the meters."""

from __future__ import annotations

import math

from audio.compiled import kernel


@kernel
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


@kernel
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
