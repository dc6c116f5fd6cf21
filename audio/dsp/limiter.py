"""The master limiter: a stereo-linked true-peak lookahead limiter (4x oversampled detector)."""

from __future__ import annotations

import math
from typing import NamedTuple

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


class LimiterParams(NamedTuple):
    """What the limiter is set to, for one sample rate (`limiter_params`)."""

    fir: np.ndarray  # (3, taps) float64: the interpolator's phases 1..3 (true_peak_fir)
    ceiling: float  # linear: the ceiling less LIMITER_MARGIN_DB
    release: float  # one-pole release coefficient per frame
    quiet: float  # the input level at or below which no phase can pass the ceiling


class LimiterState(NamedTuple):
    """The limiter's memory (`limiter_state`): rings and their positions, all preallocated."""

    hist: np.ndarray  # (2, 2 * taps) float64: doubled ring of inputs for the FIR
    hpos: np.ndarray  # (1,) int64: its newest slot
    req: np.ndarray  # (L + 1,) float64: ring of required gains (1.0: none)
    rpos: np.ndarray  # (1,) int64: frame counter modulo (L + 1) * L
    rel: np.ndarray  # (L,) float64: ring of released minima
    dly: np.ndarray  # (2, latency + 1) float64: ring of delayed inputs
    ipos: np.ndarray  # (1,) int64: its write slot
    lstate: np.ndarray  # (3,) int64: frames since a hot input, req and rel entries != 1.0

    def reset(self) -> None:
        """Forget all history (a cut): the state `limiter_state` starts with."""
        self.hist.fill(0.0)
        self.req.fill(1.0)
        self.rel.fill(1.0)
        self.dly.fill(0.0)
        self.hpos[0] = 0
        self.rpos[0] = 0
        self.ipos[0] = 0
        self.lstate[0] = self.hist.shape[1] // 2
        self.lstate[1] = 0
        self.lstate[2] = 0


def limiter_params(sr: int) -> LimiterParams:
    """The limiter's settings at sample rate `sr`: -1 dBTP less the margin, 80 ms release."""
    fir = true_peak_fir()
    ceiling = 10.0 ** ((LIMITER_CEILING_DBTP - LIMITER_MARGIN_DB) / 20.0)
    release = 1.0 - math.exp(-1.0 / (LIMITER_RELEASE_S * sr))
    return LimiterParams(fir, ceiling, release, limiter_quiet_level(fir, ceiling))


def limiter_state(sr: int) -> LimiterState:
    """A limiter's memory at sample rate `sr`, silent (see LimiterState.reset)."""
    taps = -(-TP_TAPS // TP_OVERSAMPLE)
    look = limiter_lookahead(sr)
    state = LimiterState(
        hist=np.zeros((2, 2 * taps)),
        hpos=np.zeros(1, dtype=np.int64),
        req=np.ones(look + 1),
        rpos=np.zeros(1, dtype=np.int64),
        rel=np.ones(look),
        dly=np.zeros((2, limiter_latency(sr) + 1)),
        ipos=np.zeros(1, dtype=np.int64),
        lstate=np.zeros(3, dtype=np.int64),
    )
    state.reset()
    return state


@kernel
def limiter(mix, n, master_cur, master_tgt, out, params, state):
    """Master gain ramp + stereo-linked true-peak lookahead limiter; float32 result into out.

    Per input frame: the 4x-oversampled peak (input sample and 3 interpolated phases, both
    channels) gives the gain that frame needs, req = min(1, ceiling / peak). Gain = moving
    average over L frames of (the minimum of req over L + 1 frames, with a one-pole release).
    Each averaged term is <= the requirement of the frame being output and of its neighbour,
    so the output never exceeds the ceiling (up to the detector's interpolation error, covered
    by LIMITER_MARGIN_DB), with no instantaneous gain steps. Below the ceiling the gain is
    exactly 1.0 and the output is the input delayed, bit for bit.

    `params` (LimiterParams) holds the settings, `state` (LimiterState) the rings: hist the
    doubled ring of inputs for the FIR, req the requirements over L + 1 frames, rel the released
    minima over L, dly the delayed inputs; their positions in hpos, rpos, ipos.

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
    fir, ceiling, release, quiet = params.fir, params.ceiling, params.release, params.quiet
    hist, req, rel, dly = state.hist, state.req, state.rel, state.dly
    hpos, rpos, ipos, lstate = state.hpos, state.rpos, state.ipos, state.lstate
    taps = fir.shape[1]
    n_req = req.shape[0]
    look = rel.shape[0]
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
        m = _master_at(master_cur, master_tgt, ramp, t, inv_n)
        v0 = mix[t, 0] * m
        v1 = mix[t, 1] * m
        h = _push_history(hist, h, taps, v0, v1)
        dly[0, ip] = v0
        dly[1, ip] = v1
        since_hot = _frames_since_hot(since_hot, v0, v1, quiet, taps)
        if since_hot >= taps and req_hot == 0 and rel_hot == 0:
            # Quiet, and both rings hold only 1.0: requirement 1.0, minimum 1.0, released
            # 1.0, sum L. Exactly what the general path below computes, without the work.
            g = g_unity
        else:
            g_need = 1.0
            if since_hot < taps:
                g_need = _required_gain(hist, h, f0, f1, f2, taps, ceiling)
            req_hot = _ring_put(req, qi, g_need, req_hot)
            mn = _ring_min(req, req_hot)
            r = _released(mn, rel[li - 1 if li > 0 else look - 1], release)
            rel_hot = _ring_put(rel, li, r, rel_hot)
            g = _ring_sum(rel, rel_hot, unity_sum) * inv_look
        rp, qi, li = _advance(rp, qi, li, n_req, look)
        ip = _delayed_out(out, t, dly, ip, g)
    hpos[0] = h
    rpos[0] = rp
    ipos[0] = ip
    lstate[0] = since_hot
    lstate[1] = req_hot
    lstate[2] = rel_hot


# -- the limiter's steps (compiled into `limiter`; each is one idea of its docstring) ----------


@kernel(inline=True)
def _master_at(master_cur, master_tgt, ramp, t, inv_n):
    """The master gain of frame t: ramped linearly across a block in which it changes."""
    m = master_cur
    if ramp:
        m = master_cur + (master_tgt - master_cur) * ((t + 1) * inv_n)
    return m


@kernel(inline=True)
def _push_history(hist, h, taps, v0, v1):
    """Put one input frame into the FIR's doubled ring: afterwards hist[c, h + k] is the input k
    frames ago for k < taps, unwrapped (no modulo in the FIR loop). Returns the new h."""
    h -= 1
    if h < 0:
        h = taps - 1
    hist[0, h] = v0
    hist[0, h + taps] = v0
    hist[1, h] = v1
    hist[1, h + taps] = v1
    return h


@kernel(inline=True)
def _frames_since_hot(since_hot, v0, v1, quiet, taps):
    """Frames since an input sample above `quiet`, counted up to `taps` (the FIR's window)."""
    if abs(v0) > quiet or abs(v1) > quiet:
        return 0
    if since_hot < taps:
        return since_hot + 1
    return since_hot


@kernel(inline=True)
def _channel_peak(hc, h, f0, f1, f2, taps, pk):
    """max(pk, |input phase|, |the 3 interpolated phases|) of one channel's newest frame."""
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
    return pk


@kernel(inline=True)
def _required_gain(hist, h, f0, f1, f2, taps, ceiling):
    """The gain the newest frame needs: min(1, ceiling / its 4x-oversampled stereo peak)."""
    pk = _channel_peak(hist[0], h, f0, f1, f2, taps, 0.0)
    pk = _channel_peak(hist[1], h, f0, f1, f2, taps, pk)
    if pk > ceiling:
        return ceiling / pk
    return 1.0


@kernel(inline=True)
def _ring_put(ring, i, value, off_unity):
    """ring[i] = value, keeping the count of the ring's entries != 1.0 (returned)."""
    if ring[i] != 1.0:
        off_unity -= 1
    if value != 1.0:
        off_unity += 1
    ring[i] = value
    return off_unity


@kernel(inline=True)
def _ring_min(ring, off_unity):
    """The smallest entry of a ring of gains <= 1 (1.0 without a look when all are 1.0)."""
    mn = 1.0
    if off_unity > 0:
        for k in range(ring.shape[0]):
            if ring[k] < mn:
                mn = ring[k]
    return mn


@kernel(inline=True)
def _released(mn, prev, release):
    """The minimum after the one-pole release: a lower gain at once, a higher one approached
    from the previous frame's value by `release` per frame (never past it)."""
    r = mn
    if mn > prev:
        r = prev + (mn - prev) * release
        if r > mn:
            r = mn
    return r


@kernel(inline=True)
def _ring_sum(ring, off_unity, unity_sum):
    """The sum of a ring's entries, in ring order (`unity_sum` without a look when all are 1)."""
    acc = unity_sum
    if off_unity > 0:
        acc = 0.0
        for k in range(ring.shape[0]):
            acc += ring[k]
    return acc


@kernel(inline=True)
def _advance(rp, qi, li, n_req, look):
    """The next frame's ring positions: rp modulo n_req * look, its slots in req and rel."""
    rp += 1
    if rp >= n_req * look:
        rp -= n_req * look
    qi += 1
    if qi >= n_req:
        qi = 0
    li += 1
    if li >= look:
        li = 0
    return rp, qi, li


@kernel(inline=True)
def _delayed_out(out, t, dly, ip, g):
    """Output frame t: the input that entered `latency` frames ago, times the gain g. Returns
    the delay ring's next write position."""
    op = ip + 1
    if op >= dly.shape[1]:
        op = 0
    out[t, 0] = dly[0, op] * g
    out[t, 1] = dly[1, op] * g
    return op


def limiter_quiet_level(fir: np.ndarray, ceiling: float) -> float:
    """The input level at or below which no interpolated phase can exceed `ceiling`: the
    ceiling over the largest L1 norm of a phase (>= 1 for the input phase itself), less a
    margin far above the rounding error of a 25-term float64 sum (~1e-14 relative)."""
    l1 = max(1.0, float(np.abs(fir).sum(axis=1).max()))
    return ceiling / (l1 * (1.0 + 1e-9))
