"""Loudness of a render: ITU-R BS.1770-4 integrated loudness (LUFS) and true peak (dBTP).

For reports on exports and platform renders, not for the audio callback (it allocates).

Both measures are single passes of compiled kernels over the render as it is (float32 or
float64, (N, C) or (N,)), with no copy of the whole signal:

* loudness: K-weighting (the two biquads of BS.1770, designed as pyloudnorm designs them, so a
  figure agrees with the pyloudnorm meter the platform used before, to ~0.001 LU), then the
  mean square of every 100 ms step; the 400 ms gating blocks (75 % overlap) are sums of four
  steps, gated at −70 LUFS absolute and −10 LU relative (blocks counted as pyloudnorm does).
* true peak: the 4× polyphase interpolation `scipy.signal.resample_poly(x, 4, 1)` performs (the
  same 81-tap Kaiser FIR), evaluated over the whole signal as one (zero outside it), tile by
  tile, keeping only the running maximum.

The kernels release the GIL, so callers may run them on several threads (server.loudness runs
the channels and two halves of the true peak side by side): a stereo 4-minute render costs
~0.25 s of CPU in all (pyloudnorm and resample_poly took ~2.5 s).
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import Executor

import numpy as np

from audio.compiled import kernel
from audio.truepeak_taps import METER_TAPS

BLOCK_S = 0.4  # gating block (BS.1770-4)
STEP_S = 0.1  # 75 % overlap: blocks start every 100 ms
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
TP_OVERSAMPLE = 4
_TP_TILE = 2048  # frames per true-peak tile (its phase sums stay in L1)


def _biquad(kind: str, gain_db: float, q: float, fc: float, rate: float) -> np.ndarray:
    """(b0, b1, b2, a1, a2) normalised by a0: the RBJ-style designs pyloudnorm's K-weighting
    uses (a high shelf of +4 dB at 1500 Hz, Q 1/sqrt 2; a high-pass at 38 Hz, Q 0.5)."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc / rate
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    if kind == "high_shelf":
        sa = 2.0 * math.sqrt(a) * alpha
        b0 = a * ((a + 1) + (a - 1) * cw + sa)
        b1 = -2 * a * ((a - 1) + (a + 1) * cw)
        b2 = a * ((a + 1) + (a - 1) * cw - sa)
        a0 = (a + 1) - (a - 1) * cw + sa
        a1 = 2 * ((a - 1) - (a + 1) * cw)
        a2 = (a + 1) - (a - 1) * cw - sa
    else:  # high_pass
        b0, b1, b2 = (1 + cw) / 2, -(1 + cw), (1 + cw) / 2
        a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    return np.array([b0, b1, b2, a1, a2]) / a0


def k_weighting(rate: int) -> np.ndarray:
    """(2, 5) biquads: the BS.1770 pre-filter (head shelf) then the RLB high-pass."""
    return np.stack(
        [
            _biquad("high_shelf", 4.0, 1.0 / math.sqrt(2.0), 1500.0, rate),
            _biquad("high_pass", 0.0, 0.5, 38.0, rate),
        ]
    )


@kernel(nogil=True)
def _step_powers(x, channel, sos, bounds, out):  # pragma: no cover - compiled
    """out[s] = sum of squares of K-weighted x[:, channel] over frames [bounds[s], bounds[s+1])."""
    b0, b1, b2, a1, a2 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 3], sos[0, 4]
    c0, c1, c2, d1, d2 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 3], sos[1, 4]
    z1 = z2 = w1 = w2 = 0.0
    for s in range(bounds.shape[0] - 1):
        acc = 0.0
        for i in range(bounds[s], bounds[s + 1]):
            v = np.float64(x[i, channel])
            y = b0 * v + z1  # transposed direct form II, float64 state
            z1 = b1 * v - a1 * y + z2
            z2 = b2 * v - a2 * y
            u = c0 * y + w1
            w1 = c1 * y - d1 * u + w2
            w2 = c2 * y - d2 * u
            acc += u * u
        out[s] = acc


def _steps(n_frames: int, rate: int) -> tuple[np.ndarray, int, int]:
    """Frame bounds of the 100 ms steps the gating blocks cover, steps per block, blocks.

    Blocks are counted as pyloudnorm counts them, round((T - 0.4 s) / 0.1 s) + 1 for T seconds,
    so the last block may run up to 50 ms past the end (the missing frames count as silence);
    nothing under 0.4 s is measured. Step s starts at frame floor(s * rate / 10)."""
    per_block = round(BLOCK_S / STEP_S)
    steps_per_s = round(1.0 / STEP_S)
    if n_frames < BLOCK_S * rate:
        return np.zeros(1, dtype=np.int64), per_block, 0
    n_blocks = int(np.round((n_frames / rate - BLOCK_S) / STEP_S)) + 1
    n_steps = n_blocks + per_block - 1
    bounds = np.arange(n_steps + 1, dtype=np.int64) * rate // steps_per_s
    return bounds, per_block, n_blocks


def _as_2d(audio: np.ndarray) -> np.ndarray:
    data = np.asarray(audio)
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    return data[:, None] if data.ndim == 1 else data


def channel_step_powers(audio: np.ndarray, rate: int, channel: int) -> np.ndarray:
    """Sums of squares of one K-weighted channel per 100 ms step (see `gated_loudness`)."""
    data = _as_2d(audio)
    bounds, _, _ = _steps(data.shape[0], rate)
    out = np.zeros(max(0, bounds.shape[0] - 1))
    if out.size:
        clamped = np.minimum(bounds, data.shape[0])  # a last block past the end: silence there
        _step_powers(data, channel, k_weighting(rate), clamped, out)
    return out


def gated_loudness(step_powers: list[np.ndarray], n_frames: int, rate: int) -> float:
    """Integrated loudness (LUFS) from every channel's `channel_step_powers`."""
    bounds, per_block, n_blocks = _steps(n_frames, rate)
    if n_blocks == 0:
        return -math.inf
    block_len = bounds[per_block:] - bounds[:n_blocks]
    weighted = np.zeros(n_blocks)
    per_channel = []
    for i, steps in enumerate(step_powers):
        sums = np.concatenate(([0.0], np.cumsum(steps)))
        z = (sums[per_block:] - sums[:n_blocks]) / block_len  # mean square of each block
        per_channel.append(z)
        weighted += CHANNEL_WEIGHTS[i] * z
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(weighted)
    above = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above.any():
        return -math.inf
    mean_power = sum(CHANNEL_WEIGHTS[i] * z[above].mean() for i, z in enumerate(per_channel))
    relative = -0.691 + 10.0 * math.log10(mean_power) + RELATIVE_GATE_LU
    gated = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return -math.inf
    mean_power = sum(CHANNEL_WEIGHTS[i] * z[gated].mean() for i, z in enumerate(per_channel))
    return -0.691 + 10.0 * math.log10(mean_power) if mean_power > 0 else -math.inf


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of an (N, C) or (N,) render (K-weighted, gated, BS.1770-4).

    Returns -inf for silence or for material shorter than one 400 ms gating block."""
    data = _as_2d(audio)
    if data.shape[1] > len(CHANNEL_WEIGHTS):
        raise ValueError(f"at most {len(CHANNEL_WEIGHTS)} channels, got {data.shape[1]}")
    powers = [channel_step_powers(data, sample_rate, c) for c in range(data.shape[1])]
    return gated_loudness(powers, data.shape[0], sample_rate)


def true_peak_phases() -> np.ndarray:
    """(4, 21) taps of resample_poly's 4x interpolator: phase p holds h[p], h[p+4], ...

    Output sample 4n+p of the oversampled signal is sum_k phases[p, k] * x[n + 10 - k]."""
    h = np.array(METER_TAPS)  # scipy's design, stored: no scipy in a render worker
    taps = -(-h.size // TP_OVERSAMPLE)
    phases = np.zeros((TP_OVERSAMPLE, taps))
    for p in range(TP_OVERSAMPLE):
        phases[p, : h[p::TP_OVERSAMPLE].size] = h[p::TP_OVERSAMPLE]
    return phases


@kernel(nogil=True)
def _true_peak(x, lo, hi, phases):  # pragma: no cover - compiled
    """max |oversampled x| over output samples 4*lo .. 4*hi - 1, every channel (x is zero
    outside [0, N)). Tile by tile: pad the tile with its neighbours, then for each phase
    accumulate tap by tap over the whole tile (vectorises) and take the tile's max."""
    n, n_ch = x.shape
    n_ph, n_taps = phases.shape
    delay = n_taps // 2  # 10: phase outputs are centred on the input sample
    ph = phases.astype(np.float32)
    tile = _TP_TILE
    padded = np.zeros(tile + n_taps, dtype=np.float32)
    acc = np.zeros(tile, dtype=np.float32)
    peak = 0.0
    for c in range(n_ch):
        for start in range(lo, hi, tile):
            m = min(tile, hi - start)
            # padded[j] = x[start - (n_taps - 1 - delay) + j]: the tile and its neighbours
            first = start - (n_taps - 1 - delay)
            for j in range(m + n_taps - 1):
                i = first + j
                padded[j] = x[i, c] if 0 <= i < n else 0.0
            for p in range(n_ph):
                for j in range(m):
                    acc[j] = 0.0
                for k in range(n_taps):
                    hk = ph[p, k]
                    if abs(hk) < 1e-9:  # phase 0's off-centre taps are sinc zeros (~1e-17)
                        continue
                    src = padded[n_taps - 1 - k :]  # a view: j below is provably >= 0
                    for j in range(m):
                        acc[j] += hk * src[j]
                for j in range(m):
                    a = abs(acc[j])
                    if a > peak:
                        peak = a
    return peak


def true_peak(audio: np.ndarray, executor: Executor | None = None, parts: int = 1) -> float:
    """Linear true peak of an (N, C) or (N,) signal: max of |x| and of its 4x oversampling
    (resample_poly's interpolator). With `executor`, split into `parts` ranges run on it."""
    data = _as_2d(audio)
    n = data.shape[0]
    if n == 0:
        return 0.0
    phases = true_peak_phases()
    cuts = [n * i // max(1, parts) for i in range(max(1, parts) + 1)]
    ranges = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    if executor is None or len(ranges) == 1:
        peaks = [_true_peak(data, a, b, phases) for a, b in ranges]
    else:
        peaks = list(executor.map(lambda r: _true_peak(data, r[0], r[1], phases), ranges))
    sample_peak = max(float(np.max(data)), -float(np.min(data)))
    return max(sample_peak, *(float(p) for p in peaks))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP: the peak of the 4x-oversampled signal (BS.1770-4 Annex 2)."""
    peak = true_peak(audio)
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


__all__ = [
    "gated_loudness",
    "integrated_loudness",
    "k_weighting",
    "true_peak",
    "true_peak_dbtp",
]
