"""The master limiter: a stereo-linked true-peak lookahead limiter (4x oversampled detector)."""

from __future__ import annotations

import numpy as np

from audio.compiled import kernel

TP_OVERSAMPLE = 4
TP_TAPS = 97  # odd: the interpolator's centre falls on an input sample (phase 0 = identity)
TP_DELAY = (TP_TAPS - 1) // (2 * TP_OVERSAMPLE)  # 8 input samples
LIMITER_CEILING_DBTP = -1.0
LIMITER_MARGIN_DB = 0.3  # the detector aims this far below the ceiling (detector != meter FIR)
LIMITER_LOOKAHEAD = 48  # frames at 48 kHz = 1 ms; scaled with the sample rate
LIMITER_RELEASE_S = 0.08


def true_peak_fir() -> np.ndarray:
    """(TP_OVERSAMPLE - 1, taps) polyphase interpolator for phases 1..3 (phase 0 is the input).

    firwin(TP_TAPS, 1 / TP_OVERSAMPLE, window=("kaiser", 7.0)) * TP_OVERSAMPLE, stored (the
    studio does not import scipy for it): audio/truepeak_taps.py."""
    from audio.truepeak_taps import TAPS

    h = np.array(TAPS)
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


@kernel
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
    rings hold only 1.0, the minimum is 1.0 and the sum is exactly L: those loops are skipped,
    and while all three hold (quiet and both rings at unity) the frame's gain is L * (1 / L)
    without touching the rings at all. Where the loops run, they run in the original order
    (sums are not reassociated). Ring slots are kept by increment, not a per-frame modulo.
    """
    taps = fir.shape[1]
    n_req = req.shape[0]
    look = rel.shape[0]
    n_dly = dly.shape[1]
    inv_n = 1.0 / n
    inv_look = 1.0 / look
    unity_sum = look * 1.0  # the sum of L ones, exactly
    g_unity = unity_sum * inv_look
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
    qi = rp % n_req  # ring slots of frame rp, kept by increment (no per-frame modulo)
    li = rp % look
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
        if since_hot >= taps and req_hot == 0 and rel_hot == 0:
            # Quiet, and both rings hold only 1.0: requirement 1.0, minimum 1.0, released
            # 1.0, sum L. Exactly what the general path below computes, without the work.
            g = g_unity
        else:
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
            prev = rel[li - 1 if li > 0 else look - 1]
            r = mn
            if mn > prev:
                r = prev + (mn - prev) * release
                if r > mn:
                    r = mn
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
        qi += 1
        if qi >= n_req:
            qi = 0
        li += 1
        if li >= look:
            li = 0
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
