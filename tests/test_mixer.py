"""MixKernel against an independent per-stem reference, gain laws, solo/mute logic, and ramps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audio.mixer import MixKernel, db_to_gain, pan_gains

SR = 48000


def reference_mix(stems, gain_db, pan, mute, solo, master_db):
    """Plain-Python-per-stem reference (no matmul, no shared helpers with audio.mixer)."""
    n_stems, _, n_frames = stems.shape
    any_solo = any(bool(s) for s in solo)
    master = 0.0 if master_db <= -96 else 10.0 ** (master_db / 20.0)
    out = np.zeros((n_frames, 2), dtype=np.float64)
    for s in range(n_stems):
        if mute[s] or (any_solo and not solo[s]):
            continue
        g = 0.0 if gain_db[s] <= -96 else 10.0 ** (gain_db[s] / 20.0)
        theta = (min(1.0, max(-1.0, pan[s])) + 1.0) * math.pi / 4.0
        left, right = math.cos(theta) * math.sqrt(2.0), math.sin(theta) * math.sqrt(2.0)
        out[:, 0] += g * master * left * stems[s, 0].astype(np.float64)
        out[:, 1] += g * master * right * stems[s, 1].astype(np.float64)
    return np.clip(out, -1.0, 1.0)


def run_steady(stems, *controls):
    kernel = MixKernel(stems.shape[0], stems.shape[2], limiter=False)  # mix only, no delay
    kernel.reset(*controls)
    out = np.full((stems.shape[2], 2), np.nan, dtype=np.float32)
    kernel.process(stems, out, *controls)
    return kernel, out


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_reference_at_steady_state(seed):
    rng = np.random.default_rng(seed)
    n_stems = int(rng.integers(1, 12))
    stems = (rng.standard_normal((n_stems, 2, 777)) * 0.1).astype(np.float32)
    gain_db = rng.uniform(-40, 12, n_stems)
    gain_db[0] = -120.0  # below the floor: silent
    pan = rng.uniform(-1.2, 1.2, n_stems)  # includes out-of-range values (clipped)
    mute = rng.random(n_stems) < 0.25
    solo = rng.random(n_stems) < (0.3 if seed % 2 else 0.0)
    master_db = float(rng.uniform(-12, 3))
    controls = (gain_db, pan, mute, solo, master_db)

    kernel, out = run_steady(stems, *controls)
    ref = reference_mix(stems, *controls)
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)
    assert np.abs(out).max() > 0 or not np.any(ref)

    # Meters: post-fader (master excluded) stem peaks, master peak/RMS of what came out.
    any_solo = solo.any()
    for s in range(n_stems):
        audible = not mute[s] and (solo[s] or not any_solo)
        g = 0.0 if gain_db[s] <= -96 or not audible else 10 ** (gain_db[s] / 20)
        left, right = pan_gains(pan[s])
        expect = max(g * left * np.abs(stems[s, 0]).max(), g * right * np.abs(stems[s, 1]).max())
        assert kernel.stem_peaks[s] == pytest.approx(expect, rel=1e-5, abs=1e-9)
    np.testing.assert_allclose(kernel.master_peak, np.abs(ref).max(axis=0), atol=1e-6)
    np.testing.assert_allclose(kernel.master_rms, np.sqrt((ref**2).mean(axis=0)), atol=1e-6)


def test_db_to_gain_values():
    assert db_to_gain(0.0) == 1.0
    assert db_to_gain(20.0) == pytest.approx(10.0)
    assert db_to_gain(-6.020599913279624) == pytest.approx(0.5)
    assert db_to_gain(-95.9) > 0.0
    assert db_to_gain(-96.0) == 0.0
    assert db_to_gain(-200.0) == 0.0
    assert db_to_gain(-np.inf) == 0.0
    arr = db_to_gain(np.array([0.0, -96.0, 6.0]))
    np.testing.assert_allclose(arr, [1.0, 0.0, 10 ** (6 / 20)])


def test_pan_gains_values():
    assert pan_gains(0.0) == (1.0, 1.0)  # exactly unity at centre
    left, right = pan_gains(-1.0)
    assert left == pytest.approx(math.sqrt(2)) and right == pytest.approx(0.0, abs=1e-15)
    left, right = pan_gains(1.0)
    assert left == pytest.approx(0.0, abs=1e-15) and right == pytest.approx(math.sqrt(2))
    assert pan_gains(-3.0) == pan_gains(-1.0)  # clipped
    lefts, rights = pan_gains(np.linspace(-1, 1, 101))
    np.testing.assert_allclose(lefts**2 + rights**2, 2.0, rtol=1e-12)  # equal power
    assert np.all(np.diff(lefts) < 0) and np.all(np.diff(rights) > 0)


@pytest.mark.parametrize(
    ("solo", "mute", "audible"),
    [
        ([0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]),  # nothing soloed: everything plays
        ([0, 0, 0, 0], [0, 1, 0, 1], [1, 0, 1, 0]),  # mutes only
        ([0, 1, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]),  # one soloed: only it
        ([1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0]),  # two soloed
        ([1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]),  # soloed + muted: mute wins
        ([1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]),  # the only solo is muted: silence
    ],
)
def test_solo_mute_truth_table(solo, mute, audible):
    # Stem s is a DC of 2**s / 100: the mixed value spells out, in binary, who is audible.
    n = 64
    stems = np.empty((4, 2, n), dtype=np.float32)
    for s in range(4):
        stems[s] = 2**s / 100.0
    controls = (np.zeros(4), np.zeros(4), np.array(mute, bool), np.array(solo, bool), 0.0)
    _, out = run_steady(stems, *controls)
    code = round(float(out[10, 0]) * 100)
    assert [(code >> s) & 1 for s in range(4)] == audible
    assert np.all(out == out[0])


def test_gain_jump_is_ramped_and_lands_on_target():
    block, amp = 256, 0.05
    n_blocks = 6
    t = np.arange(block * n_blocks) / SR
    sine = (amp * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    stems = np.stack([np.stack([sine, sine])])
    pan, mute, solo = np.zeros(1), np.zeros(1, bool), np.zeros(1, bool)

    kernel = MixKernel(1, block, limiter=False)
    kernel.reset(np.zeros(1), pan, mute, solo, 0.0)
    out = np.zeros((block * n_blocks, 2), dtype=np.float32)
    jump_block = 2
    for b in range(n_blocks):
        gain = np.array([24.0 if b >= jump_block else 0.0])
        sl = slice(b * block, (b + 1) * block)
        kernel.process(stems[:, :, sl], out[sl], gain, pan, mute, solo, 0.0)

    g1 = 10 ** (24 / 20)
    steps = np.abs(np.diff(out[:, 0].astype(np.float64)))
    ramp_step = steps.max()
    steady_step = np.abs(np.diff(g1 * sine.astype(np.float64))).max()  # the signal's own slope
    b0 = jump_block * block
    hard_step = abs(g1 * float(sine[b0]) - float(sine[b0 - 1]))  # switching gain at the edge
    assert hard_step > 0.5
    assert ramp_step < steady_step * 1.05 + amp * (g1 - 1) / block
    assert ramp_step < hard_step / 5
    # The ramp really is gradual: mid-ramp block sample gain is between the two gains.
    mid = b0 + block // 2
    assert 1.5 < out[mid, 0] / sine[mid] < g1 - 1.5
    # It ends exactly at the target: last ramp sample and the following blocks equal g1 * x.
    ref = (g1 * sine.astype(np.float64)).astype(np.float32)
    assert out[b0 + block - 1, 0] == pytest.approx(ref[b0 + block - 1], abs=1e-7)
    fresh = MixKernel(1, block, limiter=False)
    fresh.reset(np.array([24.0]), pan, mute, solo, 0.0)
    tail = np.zeros((block, 2), dtype=np.float32)
    fresh.process(stems[:, :, -block:], tail, np.array([24.0]), pan, mute, solo, 0.0)
    np.testing.assert_array_equal(out[-block:], tail)


def test_master_gain_ramp_and_safety_clip():
    n = 512
    stems = np.full((2, 2, n), 0.4, dtype=np.float32)
    controls = [np.zeros(2), np.zeros(2), np.zeros(2, bool), np.zeros(2, bool)]
    kernel = MixKernel(2, n, limiter=False)  # the clip stage of a limiter-less kernel
    kernel.reset(*controls, -96.0)  # master fully down
    out = np.zeros((n, 2), dtype=np.float32)
    kernel.process(stems, out, *controls, 0.0)  # master up: 0 -> 0.8 ramp
    assert out[0, 0] == pytest.approx(0.8 / n, rel=1e-5)
    assert out[-1, 0] == pytest.approx(0.8, rel=1e-6)
    kernel.process(stems, out, *controls, 6.0)  # 0.8 -> 1.6: clipped at 1.0
    assert out.max() == 1.0 and out[-1, 0] == 1.0
    assert kernel.master_peak.tolist() == [1.0, 1.0]


def test_kernel_rejects_mismatched_block():
    kernel = MixKernel(2, 128)
    out = np.zeros((128, 2), dtype=np.float32)
    controls = (np.zeros(2), np.zeros(2), np.zeros(2, bool), np.zeros(2, bool), 0.0)
    with pytest.raises(ValueError):
        kernel.process(np.zeros((3, 2, 128), np.float32), out, *controls)
    with pytest.raises(ValueError):
        kernel.process(np.zeros((2, 2, 256), np.float32), np.zeros((256, 2), np.float32), *controls)


@pytest.mark.parametrize("n_stems", [2, 3, 5, 8, 9])
def test_offline_two_thread_strip_is_bit_identical(n_stems):
    """MixKernel.process inside offline_worker() (upper stems' strips on a helper thread) gives
    the single-threaded bits, through control moves, ramps, mute/solo and short blocks."""
    from audio import dsp
    from audio.mixer import PARALLEL_MIN_FRAMES, offline_worker

    rng = np.random.default_rng(n_stems)
    max_block = 4096
    sizes = [4096, 1024, 3000, 100, 4096, 2048, 1500, 4096, 4096]
    stems = (rng.standard_normal((n_stems, 2, sum(sizes))) * 0.2).astype(np.float32)
    controls = []
    for i in range(len(sizes)):
        strip = np.tile(dsp.STRIP_DEFAULTS, (n_stems, 1))
        strip[:, dsp.P_EQ_LOW] = rng.uniform(-9, 9, n_stems) if i % 3 else 0.0
        strip[:, dsp.P_EQ_MID] = rng.uniform(-9, 9, n_stems)
        strip[:, dsp.P_HP] = 20.0 if i in (4, 5) else 80.0
        strip[:, dsp.P_LP] = rng.uniform(4000, 20000, n_stems)
        strip[:, dsp.P_SEND_REVERB] = rng.uniform(0, 1, n_stems) * (i != 6)
        strip[:, dsp.P_SEND_DELAY] = rng.choice([0.0, 0.4], n_stems)
        mute = np.zeros(n_stems, bool)
        solo = np.zeros(n_stems, bool)
        if i == 3:
            mute[0] = True
        if i == 7:
            solo[-1] = True
        controls.append(
            (rng.uniform(-12, 6, n_stems), rng.uniform(-1, 1, n_stems), mute, solo, 4.0, strip)
        )
    results = []
    for threaded in (False, True):
        kernel = MixKernel(n_stems, max_block, SR)
        kernel.reset(*controls[0])
        out = np.zeros((sum(sizes), 2), np.float32)
        peaks = []
        with offline_worker(threaded):
            start = 0
            for n, c in zip(sizes, controls, strict=True):
                kernel.process(stems[:, :, start : start + n], out[start : start + n], *c)
                peaks.append(kernel.stem_peaks.copy())
                start += n
        assert (kernel._xs is not None) == threaded  # the helper thread was used
        results.append((out, np.array(peaks)))
    assert max(sizes) >= PARALLEL_MIN_FRAMES
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    assert np.abs(results[0][0]).max() > 0.1


def test_offline_worker_propagates_errors_and_stops():
    import threading

    from audio.mixer import _OFFLINE, offline_worker

    before = threading.active_count()
    with offline_worker():
        worker = _OFFLINE.worker

        def boom():
            raise RuntimeError("boom")

        worker.submit(boom, ())
        with pytest.raises(RuntimeError, match="boom"):
            worker.wait()
        worker.submit(int, ())  # still usable afterwards
        worker.wait()
    assert getattr(_OFFLINE, "worker", None) is None
    assert threading.active_count() == before
