"""The pure mixing kernel shared by the live engine and the offline renderer.

No device, no threads, no locks: `MixKernel.process` is a function of (block, controls, the
kernel's own ramp state). The live callback and `audio.offline.render_mix` both drive it, which is
what makes an export sound exactly like what the user heard.

Numerics (WHY float64 inside): the mix is a matmul per channel, and BLAS kernels round
differently in their SIMD body and their scalar tail (FMA vs separate multiply/add), so a float32
matmul gives results that depend on where a frame falls inside the block, i.e. on the block
size. Widening the float32 samples and gains to float64 makes every product exact (24+24 bit
mantissas fit in 53), so FMA or not no longer matters, and the float32 result is the same for any
block size. It also gives the sum of 32 stems more headroom than float32 accumulation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SILENCE_DB = -96.0
"""Gains at or below this many dB are treated as exactly zero (a fader at the bottom is off)."""

_QUARTER_PI = np.pi / 4.0
# Dividing by cos/sin(pi/4) instead of multiplying by sqrt(2) makes the centre *exactly* unity:
# cos(pi/4) * sqrt(2) == 1.0000000000000002 in binary64, and cos(pi/4) != sin(pi/4) in the last bit.
_COS_CENTRE = float(np.cos(_QUARTER_PI))
_SIN_CENTRE = float(np.sin(_QUARTER_PI))

_BLAS_CHUNK_ELEMENTS = 8192
"""Frames per matmul call are capped at this / n_stems: keeps each BLAS call below OpenBLAS'
threading threshold (a real-time callback must not wake worker threads) and the float64
scratch cache-sized."""

MasterProcessor = Callable[[np.ndarray], None]
"""A master-chain stage: processes the (F, 2) float32 mix in place, allocation-free."""


def db_to_gain(db: Any) -> Any:
    """Decibels to linear gain; anything at or below -96 dB (including -inf) is exactly 0.

    Accepts scalars (returns a float) or arrays (returns a float64 array). Not used in the
    callback (it allocates); the kernel has an allocation-free equivalent.
    """
    arr = np.asarray(db, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        gain = np.where(arr <= SILENCE_DB, 0.0, np.power(10.0, arr / 20.0))
    return float(gain) if gain.ndim == 0 else gain


def pan_gains(pan: Any) -> tuple[Any, Any]:
    """Equal-power balance for a stereo stem: (left, right) gains, unity at centre.

    left = cos((pan+1)*pi/4) * sqrt2, right = sin((pan+1)*pi/4) * sqrt2, so hard left is
    (sqrt2, 0) and left**2 + right**2 == 2 everywhere (constant power). Pan is clipped to [-1, 1].
    """
    theta = (np.clip(np.asarray(pan, dtype=np.float64), -1.0, 1.0) + 1.0) * _QUARTER_PI
    left = np.cos(theta) / _COS_CENTRE
    right = np.sin(theta) / _SIN_CENTRE
    if left.ndim == 0:
        return float(left), float(right)
    return left, right


def safety_clip(out: np.ndarray) -> None:
    """Hard clip to [-1, 1]: the placeholder master stage until the true-peak limiter lands."""
    np.clip(out, -1.0, 1.0, out=out)


class MixKernel:
    """Mixes an (S, 2, F) block of stems into an (F, 2) output with per-stem gain/pan/mute/solo.

    Every buffer is allocated in `__init__`; `process` and `reset` allocate nothing beyond
    numpy's small view objects, so both are callable from the audio callback.

    The effective gain of stem s on channel c is
    ``db_to_gain(gain_db[s]) * audible[s] * pan_gains(pan[s])[c] * db_to_gain(master_gain_db)``
    where audible is "not muted, and soloed if anything is soloed" (mute beats solo). Between
    blocks the gain moves linearly from the previous block's value to the new target across the
    block, reaching the target exactly on the block's last frame.
    """

    def __init__(self, n_stems: int, max_block: int) -> None:
        if n_stems < 1 or max_block < 1:
            raise ValueError("n_stems and max_block must be >= 1")
        self.n_stems = n_stems
        self.max_block = max_block
        s = n_stems
        self._chunk = max(16, min(max_block, _BLAS_CHUNK_ELEMENTS // s))

        # Ramp state, shape (2, S): [channel, stem]. "stem" gains exclude the master gain (they
        # feed the post-fader meters), "total" gains include it (they feed the matmul).
        self._stem_cur = np.zeros((2, s))
        self._stem_tgt = np.zeros((2, s))
        self._total_cur = np.zeros((2, s))
        self._total_tgt = np.zeros((2, s))
        # Per channel a 2 x S matrix [g0; g1 - g0]: one matmul gives the flat and the ramp term.
        self._coef = np.zeros((2, 2, s))
        self._gmax = np.zeros((2, s))

        # Scratch for target computation.
        self._lin = np.zeros(s)
        self._audible = np.zeros(s)
        self._mask = np.zeros(s, dtype=bool)
        self._theta = np.zeros(s)
        self._master_lin = np.zeros(1)

        # Scratch for the mix, float64 (see module docstring).
        c = self._chunk
        self._x = np.zeros((2, s, c))  # [channel, stem, frame]
        self._y = np.zeros((2, c))  # [flat|ramp term, frame]
        self._ramp = np.zeros(c)
        self._frame_idx = np.arange(1, max(c, max_block) + 1, dtype=np.float64)
        self._chan_peak = np.zeros((2, s))
        self._chan_peak_acc = np.zeros((2, s))
        self._abs = np.zeros((max_block, 2), dtype=np.float32)
        self._ms = np.zeros(2, dtype=np.float32)

        self.master_chain: list[MasterProcessor] = [safety_clip]
        """Stages run in order on the (F, 2) mix, in place. Insert the limiter here later."""

        # Meters: written once per block, polled by the UI (NB: read from the UI thread; a torn
        # read of a float array costs one stale meter value, never a crash).
        self.stem_peaks = np.zeros(s, dtype=np.float32)
        self.master_peak = np.zeros(2, dtype=np.float32)
        self.master_rms = np.zeros(2, dtype=np.float32)

    # -- gains -----------------------------------------------------------------------------

    def _compute_targets(self, gain_db, pan, mute, solo, master_gain_db) -> None:
        """Controls -> self._stem_tgt / self._total_tgt without allocating."""
        lin, mask = self._lin, self._mask
        # db -> linear; <= -96 dB is exactly 0.
        np.multiply(gain_db, 1.0 / 20.0, out=lin)
        np.power(10.0, lin, out=lin)
        np.greater(gain_db, SILENCE_DB, out=mask)
        np.multiply(lin, mask, out=lin)
        # Audibility: solo-in-place, mute wins.
        np.logical_not(mute, out=mask)
        if np.any(solo):
            np.logical_and(mask, solo, out=mask)
        np.copyto(self._audible, mask)
        np.multiply(lin, self._audible, out=lin)
        # Equal-power balance.
        theta = self._theta
        np.clip(pan, -1.0, 1.0, out=theta)
        np.add(theta, 1.0, out=theta)
        np.multiply(theta, _QUARTER_PI, out=theta)
        np.cos(theta, out=self._stem_tgt[0])
        np.sin(theta, out=self._stem_tgt[1])
        np.multiply(self._stem_tgt[0], lin, out=self._stem_tgt[0])
        np.multiply(self._stem_tgt[1], lin, out=self._stem_tgt[1])
        np.divide(self._stem_tgt[0], _COS_CENTRE, out=self._stem_tgt[0])
        np.divide(self._stem_tgt[1], _SIN_CENTRE, out=self._stem_tgt[1])
        # Master.
        m = self._master_lin
        np.copyto(m, master_gain_db)  # scalar or shape-(1,) array
        if m[0] <= SILENCE_DB:
            m[0] = 0.0
        else:
            np.multiply(m, 1.0 / 20.0, out=m)
            np.power(10.0, m, out=m)
        np.multiply(self._stem_tgt, m[0], out=self._total_tgt)

    def reset(self, gain_db, pan, mute, solo, master_gain_db) -> None:
        """Jump to the gains for these controls with no ramp (start of a render, new track)."""
        self._compute_targets(gain_db, pan, mute, solo, master_gain_db)
        np.copyto(self._stem_cur, self._stem_tgt)
        np.copyto(self._total_cur, self._total_tgt)

    # -- processing ------------------------------------------------------------------------

    def process(self, block, out, gain_db, pan, mute, solo, master_gain_db) -> None:
        """Mix `block` (S, 2, F) float32 into `out` (F, 2) float32, ramping to the new controls.

        Controls are read once, here at the top of the block. Then the master chain runs and
        the meters are updated.
        """
        n_frames = block.shape[2]
        if block.shape[0] != self.n_stems or block.shape[1] != 2:
            raise ValueError(f"block shape {block.shape} does not match {self.n_stems} stems")
        if out.shape[0] != n_frames or n_frames > self.max_block:
            raise ValueError(f"out has {out.shape[0]} frames for a {n_frames}-frame block")
        self._compute_targets(gain_db, pan, mute, solo, master_gain_db)
        ramping = not np.array_equal(self._total_cur, self._total_tgt)
        coef = self._coef
        np.copyto(coef[:, 0, :], self._total_cur)
        np.subtract(self._total_tgt, self._total_cur, out=coef[:, 1, :])
        acc = self._chan_peak_acc
        acc.fill(0.0)
        chunk = self._chunk
        x, y, ramp = self._x, self._y, self._ramp
        for a in range(0, n_frames, chunk):
            b = min(a + chunk, n_frames)
            f = b - a
            xf = x[:, :, :f]
            np.copyto(xf, block[:, :, a:b].transpose(1, 0, 2))
            if ramping:
                # ramp[t] = (t+1)/F for absolute frame t in the block: ends at exactly 1.
                np.divide(self._frame_idx[a:b], n_frames, out=ramp[:f])
            for c in range(2):
                if ramping:
                    np.matmul(coef[c], xf[c], out=y[:, :f])
                    np.multiply(y[1, :f], ramp[:f], out=y[1, :f])
                    np.add(y[0, :f], y[1, :f], out=y[0, :f])
                else:
                    np.matmul(coef[c, 0], xf[c], out=y[0, :f])
                np.copyto(out[a:b, c], y[0, :f], casting="same_kind")
            # Per stem/channel input peak for the post-fader meters.
            np.abs(xf, out=xf)
            np.maximum.reduce(xf, axis=2, out=self._chan_peak)
            np.maximum(acc, self._chan_peak, out=acc)
        # Post-fader stem peaks: exact at steady state, an upper bound (max of the two gains)
        # while ramping. Master gain is not included (it is after the stem faders).
        gmax = self._gmax
        np.maximum(self._stem_cur, self._stem_tgt, out=gmax)  # gains are >= 0
        np.multiply(acc, gmax, out=acc)
        np.maximum.reduce(acc, axis=0, out=self._chan_peak[0])
        np.copyto(self.stem_peaks, self._chan_peak[0], casting="same_kind")
        np.copyto(self._stem_cur, self._stem_tgt)
        np.copyto(self._total_cur, self._total_tgt)

        for stage in self.master_chain:
            stage(out)
        self.measure(out)

    def measure(self, out: np.ndarray) -> None:
        """Master peak and RMS of the final (F, 2) output, written into the meter arrays."""
        n_frames = out.shape[0]
        if n_frames == 0:
            self.master_peak.fill(0.0)
            self.master_rms.fill(0.0)
            return
        a = self._abs[:n_frames]
        np.abs(out, out=a)
        np.maximum.reduce(a, axis=0, out=self.master_peak)
        np.square(out, out=a)
        np.add.reduce(a, axis=0, out=self._ms)  # ufunc.reduce: np.mean/np.max add ~5 us
        np.multiply(self._ms, np.float32(1.0 / n_frames), out=self._ms)
        np.sqrt(self._ms, out=self.master_rms)

    def silence_meters(self) -> None:
        """Zero all meters (paused / faulted blocks)."""
        self.stem_peaks.fill(0.0)
        self.master_peak.fill(0.0)
        self.master_rms.fill(0.0)
