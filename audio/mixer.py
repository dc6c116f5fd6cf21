"""The pure mixing kernel shared by the live engine and the offline renderer.

No device, no threads, no locks: `MixKernel.process` is a function of (block, controls, the
kernel's own ramp state). The live callback and `audio.offline.render_mix` both drive it, which is
what makes an export sound exactly like what the user heard. (Only an offline render, inside
`offline_worker()`, lends it a helper thread: the same compiled arithmetic split by stems and by
reverb channel, giving the same bits.)

The per-sample work (3-band EQ and HP/LP per stem, fader/pan, two post-fader sends, the stem
sum, the reverb and delay buses, master gain and the true-peak limiter) is compiled with numba in
`audio.dsp`: a handful of compiled calls per block instead of dozens of numpy ufunc calls or a
Python loop of per-stem filters.

Numerics: float64 inside, stems summed in a fixed order frame by frame, no fast-math; so the
float32 result does not depend on the block size when the controls are constant (see audio.dsp).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from audio import dsp

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

_WARM = False  # set once the compiled DSP has been warmed up in this process

PARALLEL_MIN_FRAMES = 1024
"""Blocks shorter than this never use the offline helper thread (the hand-off costs ~10-50 us)."""

_OFFLINE = threading.local()  # .worker: the calling thread's _StripWorker inside offline_worker()

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
    """Hard clip to [-1, 1]: the master stage of a kernel built with `limiter=False`."""
    np.clip(out, -1.0, 1.0, out=out)


class _StripWorker:
    """A helper thread that runs one call at a time for the thread that owns it (offline only:
    the hand-off blocks on locks, which the real-time callback never does)."""

    def __init__(self) -> None:
        self._go = threading.Lock()
        self._done = threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job: tuple[Callable[..., Any], tuple] | None = None
        self._error: BaseException | None = None
        self.result: Any = None
        """The return value of the last job (valid after wait())."""
        self.enabled = True
        """MixKernel.process uses the helper only while this is True (the owner may switch it
        between blocks: both paths give the same bits)."""
        self._thread = threading.Thread(target=self._run, name="encore-strip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            job = self._job
            if job is None:
                return
            try:
                self.result = job[0](*job[1])
            except BaseException as exc:  # handed to the owner in wait()
                self._error = exc
            self._done.release()

    def submit(self, fn: Callable[..., Any], args: tuple) -> None:
        self._job = (fn, args)
        self._go.release()

    def wait(self) -> None:
        self._done.acquire()
        self._job = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self._job = None
        self._go.release()
        self._thread.join()


@contextmanager
def offline_worker(enabled: bool = True) -> Iterator[_StripWorker | None]:
    """Within this context, `MixKernel.process` called from *this* thread (an offline render,
    never the audio callback: the hand-off waits on locks) runs the strips of the upper half of
    the stems on a helper thread while this thread runs the lower half, then adds the upper
    half's lanes onto the stem sum and sends in stem order: the result is bit-identical to the
    single-threaded path (so is running the two reverb channels one per thread). The compiled
    kernels release the GIL. Yields the worker (None on a single core: nothing changes)."""
    if not enabled or (os.cpu_count() or 1) < 2:
        yield None
        return
    prev = getattr(_OFFLINE, "worker", None)
    worker = _StripWorker()
    _OFFLINE.worker = worker
    try:
        yield worker
    finally:
        _OFFLINE.worker = prev
        worker.close()


class MixKernel:
    """Mixes an (S, 2, F) block of stems into an (F, 2) output: the full channel strip per stem
    (EQ, HP/LP, gain, pan, mute/solo, two post-fader sends), the reverb and delay buses, the
    master gain and the master true-peak limiter.

    Every buffer is allocated in `__init__`; `process`, `reset` and `reset_state` allocate
    nothing beyond numpy's small view objects, so they are callable from the audio callback.

    The effective gain of stem s on channel c is
    ``db_to_gain(gain_db[s]) * audible[s] * pan_gains(pan[s])[c] * db_to_gain(master_gain_db)``
    where audible is "not muted, and soloed if anything is soloed" (mute beats solo). Between
    blocks every control (gains, sends, filter coefficients) moves linearly from the previous
    block's value to the new target across the block, reaching it exactly on the block's last
    frame.

    With `limiter=True` (the default) the output passes the -1 dBTP lookahead limiter and is
    delayed by `latency` frames; the engine compensates by reading the source that far ahead.
    With `limiter=False` there is no delay and `master_chain` starts as `[safety_clip]`.
    """

    def __init__(
        self, n_stems: int, max_block: int, sample_rate: int = 48000, limiter: bool = True
    ) -> None:
        if n_stems < 1 or max_block < 1:
            raise ValueError("n_stems and max_block must be >= 1")
        self.n_stems = n_stems
        self.max_block = max_block
        self.sample_rate = int(sample_rate)
        s, lanes, sr = n_stems, 2 * n_stems, int(sample_rate)

        # Strip state. coef_* (stage, coefficient, lane); identity = bypass.
        self._coef_cur = np.zeros((dsp.N_STAGES, 5, lanes))
        self._coef_cur[:, 0, :] = 1.0
        self._coef_tgt = self._coef_cur.copy()
        self._stage_on = np.zeros(dsp.N_STAGES, dtype=np.bool_)
        self._z = np.zeros((dsp.N_STAGES, 2, lanes))
        self._strip_last = np.full((s, dsp.N_STRIP), np.nan)
        self._lane_cur = np.zeros(lanes)
        self._lane_tgt = np.zeros(lanes)
        self._send_cur = np.zeros((2, lanes))
        self._send_tgt = np.zeros((2, lanes))
        self._strip = dsp.StripState(
            self._coef_cur, self._coef_tgt, self._z, self._lane_cur, self._lane_tgt,
            self._send_cur, self._send_tgt,
        )  # fmt: skip
        self._tmp5 = np.zeros(5)
        self._lane_peak = np.zeros(lanes)
        self._default_strip = np.tile(dsp.STRIP_DEFAULTS, (s, 1))
        self._default_bus = dsp.BUS_DEFAULTS.copy()
        # Block scratch (float64).
        self._mix = np.zeros((max_block, 2))
        self._bus = np.zeros((max_block, 4))
        self._xs: np.ndarray | None = None  # upper stems' lanes on the offline two-thread path
        self._rev_wet = np.zeros((2, self.max_block))  # the reverb's wet channels (scratch)
        # Reverb bus.
        self._rev = dsp.reverb_lines(sr)
        self._rev_alive = False
        # Delay bus.
        self._dly_buf = np.zeros((2, int(dsp.MAX_DELAY_SECONDS * sr) + 1))
        self._dly_state = np.zeros(2)
        self._dly_alive = False
        # Master gain and limiter.
        self._master_cur = 0.0
        self._master_tgt = 0.0
        self.limiter = bool(limiter)
        self.latency = dsp.limiter_latency(sr) if limiter else 0
        """Frames between a stem frame entering `process` and its mix leaving it."""
        self._lim_params = dsp.limiter_params(sr)
        self._lim_state = dsp.limiter_state(sr)
        self._lane_peak_stem = np.zeros(s)

        self.master_chain: list[MasterProcessor] = [] if limiter else [safety_clip]
        """Extra stages run in order on the (F, 2) float32 output, in place, after the limiter."""

        # Meters: written once per block, polled by the UI (NB: read from the UI thread; a torn
        # read of a float array costs one stale meter value, never a crash).
        self.stem_peaks = np.zeros(s, dtype=np.float32)
        self.master_peak = np.zeros(2, dtype=np.float32)
        self.master_rms = np.zeros(2, dtype=np.float32)
        self._warm_up()

    def _warm_up(self) -> None:
        """Compile (or load from numba's disk cache) every specialisation the callback will
        use, here in the constructing (UI) thread: a first call inside the audio callback
        would stall it for 0.5-10 s. Blocks arrive C-contiguous (the engine's scratch at full
        size) or as strided views ('A' layout); both are warmed. Once per process."""
        global _WARM
        if _WARM:
            return
        s = self.n_stems
        controls = (np.zeros(s), np.zeros(s), np.zeros(s, bool), np.zeros(s, bool), 0.0)
        strip = self._default_strip.copy()
        strip[:, dsp.P_SEND_REVERB] = 0.5
        strip[:, dsp.P_SEND_DELAY] = 0.5
        strip[:, dsp.P_EQ_MID] = 3.0
        out = np.zeros((2, 2), dtype=np.float32)
        wide = np.zeros((s, 2, 4), dtype=np.float32)
        limiter = self.limiter
        for flag in (True, False):
            self.limiter = flag
            self.process(wide[:, :, :2], out, *controls, strip)  # strided view ('A')
            self.process(np.zeros((s, 2, 2), np.float32), out, *controls, strip)  # 'C'
            self.process(wide[:, :, :2], out[:, :], *controls)
        self.limiter = limiter
        self.reset_state()
        self._strip_last.fill(np.nan)
        self.reset(*controls)
        self.silence_meters()
        _WARM = True

    # -- controls --------------------------------------------------------------------------

    def _compute_targets(self, gain_db, pan, mute, solo, master_gain_db, strip, bus) -> int:
        if strip is None:
            strip = self._default_strip
        flags = dsp.compute_targets(
            gain_db,
            pan,
            mute,
            solo,
            strip,
            float(self.sample_rate),
            self._strip_last,
            self._coef_tgt,
            self._stage_on,
            self._lane_tgt,
            self._send_tgt,
            self._tmp5,
        )
        m = float(master_gain_db if np.ndim(master_gain_db) == 0 else master_gain_db[0])
        self._master_tgt = 0.0 if m <= SILENCE_DB else 10.0 ** (m / 20.0)
        return int(flags)

    def reset(self, gain_db, pan, mute, solo, master_gain_db, strip=None, bus=None) -> None:
        """Jump to the gains/coefficients for these controls with no ramp (start of a render)."""
        self._compute_targets(gain_db, pan, mute, solo, master_gain_db, strip, bus)
        np.copyto(self._coef_cur, self._coef_tgt)
        np.copyto(self._lane_cur, self._lane_tgt)
        np.copyto(self._send_cur, self._send_tgt)
        self._master_cur = self._master_tgt

    def reset_state(self) -> None:
        """Forget all signal history (filters, reverb and delay tails, limiter): a cut."""
        self._z.fill(0.0)
        if self._rev_alive:
            self._rev.comb_buf.fill(0.0)
            self._rev.ap_buf.fill(0.0)
            self._rev.comb_store.fill(0.0)
            self._rev_alive = False
        self._rev.comb_idx.fill(0)
        self._rev.ap_idx.fill(0)
        if self._dly_alive:
            self._dly_buf.fill(0.0)
            self._dly_alive = False
        self._dly_state.fill(0.0)
        self._lim_state.reset()

    # -- processing ------------------------------------------------------------------------

    def process(
        self, block, out, gain_db, pan, mute, solo, master_gain_db, strip=None, bus=None
    ) -> None:
        """Process `block` (S, 2, F) float32 into `out` (F, 2) float32, ramping to the controls.

        Controls are read once, here at the top of the block. `strip` is the (S, N_STRIP)
        per-stem array (EQ dB, HP/LP Hz, sends; see audio.dsp), `bus` the (N_BUS,) reverb /
        delay / tempo array; None means their defaults (flat, no sends).
        """
        n_frames = block.shape[2]
        if block.shape[0] != self.n_stems or block.shape[1] != 2:
            raise ValueError(f"block shape {block.shape} does not match {self.n_stems} stems")
        if out.shape[0] != n_frames or n_frames > self.max_block:
            raise ValueError(f"out has {out.shape[0]} frames for a {n_frames}-frame block")
        if n_frames == 0:
            return
        if bus is None:
            bus = self._default_bus
        flags = self._compute_targets(gain_db, pan, mute, solo, master_gain_db, strip, bus)
        use_rev = bool(flags & 2) or self._rev_alive
        use_dly = bool(flags & 4) or self._dly_alive
        worker = getattr(_OFFLINE, "worker", None)
        if worker is not None and not worker.enabled:
            worker = None
        if worker is not None and self.n_stems >= 2 and n_frames >= PARALLEL_MIN_FRAMES:
            self._strip_two_threads(worker, block, n_frames, bool(flags & 1), use_rev, use_dly)
        else:
            dsp.strip_mix(
                block,
                n_frames,
                self._strip,
                bool(flags & 1),
                self._stage_on,
                self._mix,
                self._bus,
                use_rev,
                use_dly,
                self._lane_peak,
            )
        if use_rev:
            if worker is not None and n_frames >= PARALLEL_MIN_FRAMES:
                peak = self._reverb_two_threads(worker, n_frames, bus)
            else:
                peak = dsp.reverb(
                    self._bus,
                    n_frames,
                    self._mix,
                    self._rev_wet,
                    self._rev,
                    float(bus[dsp.B_REV_SIZE]),
                    float(bus[dsp.B_REV_DAMP]),
                    float(bus[dsp.B_REV_WET]),
                )
            # A bus with no sends goes to sleep once its tail is below -180 dBFS.
            self._rev_alive = bool(flags & 2) or peak > 1e-9
        if use_dly:
            size = self._dly_buf.shape[1]
            frames = bus[dsp.B_DLY_BEATS] * 60.0 / max(bus[dsp.B_BPM], 1.0) * self.sample_rate
            d = min(max(round(frames), 1), size - 1)
            if self._dly_state[1] == 0.0:
                self._dly_state[1] = d
            peak = dsp.delay(
                self._bus,
                n_frames,
                self._mix,
                self._dly_buf,
                self._dly_state,
                d,
                float(bus[dsp.B_DLY_FEEDBACK]),
                float(bus[dsp.B_DLY_WET]),
            )
            self._dly_alive = bool(flags & 4) or peak > 1e-9
        if self.limiter:
            dsp.limiter(
                self._mix,
                n_frames,
                self._master_cur,
                self._master_tgt,
                out,
                self._lim_params,
                self._lim_state,
            )
        else:
            dsp.master_gain(self._mix, n_frames, self._master_cur, self._master_tgt, out)
        self._master_cur = self._master_tgt
        lp = self._lane_peak
        np.maximum(lp[0::2], lp[1::2], out=self._lane_peak_stem)
        np.copyto(self.stem_peaks, self._lane_peak_stem, casting="same_kind")
        for stage in self.master_chain:
            stage(out)
        self.measure(out)

    def _strip_two_threads(
        self, worker: _StripWorker, block, n: int, ramp_coef: bool, use_rev: bool, use_dly: bool
    ) -> None:
        """dsp.strip_mix with stems [h, S) on the helper thread (offline only; see
        offline_worker): the same per-lane arithmetic and the same order of additions."""
        s = self.n_stems
        h = min(2 * ((s + 3) // 4), s - 1)  # even split (whole F64x4 groups) when possible
        if self._xs is None or self._xs.shape[1] < 2 * (s - h):
            self._xs = np.zeros((self.max_block, 2 * (s - h)))
        act, ramp_g = dsp.strip_prepare(s, self._strip, ramp_coef, self._stage_on)
        common = (
            self._strip, ramp_coef, act, ramp_g, use_rev, use_dly, self._mix, self._bus,
            self._lane_peak,
        )  # fmt: skip
        worker.submit(dsp.strip_groups, (block, n, h, s, *common, self._xs))
        try:
            dsp.strip_groups(block, n, 0, h, *common, None)
        finally:
            worker.wait()
        dsp.strip_accumulate(n, h, s, self._xs, self._strip, use_rev, use_dly, self._mix, self._bus)
        dsp.strip_finish(s, act, ramp_coef, self._strip)

    def _reverb_two_threads(self, worker: _StripWorker, n: int, bus) -> float:
        """dsp.reverb with one channel per thread (offline only; they share only the input):
        each channel's wet signal into its own row, then added to the mix as reverb adds it."""
        wet = self._rev_wet
        args = (
            self._rev, float(bus[dsp.B_REV_SIZE]), float(bus[dsp.B_REV_DAMP]),
            float(bus[dsp.B_REV_WET]),
        )  # fmt: skip
        worker.submit(dsp.reverb_half, (self._bus, n, 1, wet[1], *args))
        try:
            peak = dsp.reverb_half(self._bus, n, 0, wet[0], *args)
        finally:
            worker.wait()
        dsp.add_wet(self._mix, n, wet)
        return max(peak, worker.result)

    def measure(self, out: np.ndarray) -> None:
        """Master peak and RMS of the final (F, 2) output, written into the meter arrays."""
        n_frames = out.shape[0]
        if n_frames == 0:
            self.master_peak.fill(0.0)
            self.master_rms.fill(0.0)
            return
        dsp.meter(out, n_frames, self.master_peak, self.master_rms)

    def silence_meters(self) -> None:
        """Zero all meters (paused / faulted blocks)."""
        self.stem_peaks.fill(0.0)
        self.master_peak.fill(0.0)
        self.master_rms.fill(0.0)
