"""The compiled strip, buses and limiter against independent references (scipy, numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from audio import dsp
from audio.engine import Engine
from audio.mixer import MixKernel
from audio.offline import render_mix

SR = 48000


def noise(n_stems, n_frames, seed=0, scale=0.1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_stems, 2, n_frames)) * scale).astype(np.float32)


def strip_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.tile(dsp.STRIP_DEFAULTS, (n, 1))
    rows[:, dsp.P_EQ_LOW] = rng.uniform(-12, 12, n)
    rows[:, dsp.P_EQ_MID] = rng.uniform(-12, 12, n)
    rows[:, dsp.P_EQ_HIGH] = rng.uniform(-12, 12, n)
    rows[:, dsp.P_HP] = rng.uniform(30, 300, n)
    rows[:, dsp.P_LP] = rng.uniform(3000, 15000, n)
    return rows


def test_rbj_coefficients_have_the_right_responses():
    row = dsp.STRIP_DEFAULTS.copy()
    row[[dsp.P_EQ_LOW, dsp.P_EQ_MID, dsp.P_EQ_HIGH, dsp.P_HP, dsp.P_LP]] = [6, -9, 4, 200, 5000]
    sos = dsp.stem_sos(row, SR)
    f = np.array([10.0, dsp.EQ_MID_HZ, 200.0, 5000.0, 20000.0])

    def stage_db(k, hz):
        _, h = signal.sosfreqz(sos[k : k + 1], worN=np.atleast_1d(hz), fs=SR)
        return 20 * np.log10(np.abs(h))

    assert stage_db(dsp.STAGE_LOW, f[0]) == pytest.approx(6.0, abs=0.05)  # shelf plateau
    assert stage_db(dsp.STAGE_LOW, f[4]) == pytest.approx(0.0, abs=0.05)
    assert stage_db(dsp.STAGE_MID, f[1]) == pytest.approx(-9.0, abs=1e-6)  # peak centre
    assert stage_db(dsp.STAGE_HIGH, f[4]) == pytest.approx(4.0, abs=0.1)
    assert stage_db(dsp.STAGE_HP, f[2]) == pytest.approx(-3.01, abs=0.01)  # Butterworth corner
    assert stage_db(dsp.STAGE_LP, f[3]) == pytest.approx(-3.01, abs=0.01)
    flat = dsp.stem_sos(dsp.STRIP_DEFAULTS, SR)
    np.testing.assert_array_equal(flat, np.tile([1.0, 0, 0, 1, 0, 0], (5, 1)))  # exact bypass


def test_strip_null_test_against_scipy_sosfilt():
    n_stems, n = 6, 9000
    stems = noise(n_stems, n, seed=1)
    rows = strip_rows(n_stems, seed=2)
    kernel = MixKernel(n_stems, 4096, SR, limiter=False)
    kernel.master_chain = []  # no clip: the null test is of the filters and the mix
    gains = np.random.default_rng(3).uniform(-12, 3, n_stems)
    pans = np.random.default_rng(4).uniform(-1, 1, n_stems)
    controls = (gains, pans, np.zeros(n_stems, bool), np.zeros(n_stems, bool), -3.0, rows)
    kernel.reset(*controls)
    out = np.zeros((n, 2), np.float32)
    for a in range(0, n, 1000):  # uneven blocks on purpose
        kernel.process(stems[:, :, a : a + 1000], out[a : a + 1000], *controls)
    ref = np.zeros((n, 2))
    m = 10 ** (-3 / 20)
    for s in range(n_stems):
        sos = dsp.stem_sos(rows[s], SR)
        theta = (pans[s] + 1) * np.pi / 4
        g = 10 ** (gains[s] / 20) * np.sqrt(2) * np.array([np.cos(theta), np.sin(theta)])
        for c in range(2):
            ref[:, c] += signal.sosfilt(sos, stems[s, c].astype(np.float64)) * g[c] * m
    assert np.abs(ref).max() > 0.1
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)


def test_eq_change_is_smooth_and_settles_on_the_new_filter():
    n, block = 48000, 256
    t = np.arange(n) / SR
    sine = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    stems = np.stack([np.stack([sine, sine])])
    kernel = MixKernel(1, block, SR, limiter=False)
    row = dsp.STRIP_DEFAULTS[None, :].copy()
    base = (np.zeros(1), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), 0.0)
    kernel.reset(*base, row)
    out = np.zeros((n, 2), np.float32)
    for b in range(0, n, block):
        if b == 10 * block:
            row[0, dsp.P_EQ_LOW] = 12.0  # a big jump, applied at a block edge
        kernel.process(stems[:, :, b : b + block], out[b : b + block], *base, row)
    natural = np.abs(np.diff(sine.astype(np.float64))).max()
    step = np.abs(np.diff(out[:, 0].astype(np.float64))).max()
    assert step < natural * 4.1 * 1.1  # +12 dB shelf at 100 Hz ~ x3.9: no zipper step
    _, h = signal.sosfreqz(dsp.stem_sos(row[0], SR), worN=[100.0], fs=SR)
    settled = np.abs(out[-4800:, 0]).max()
    assert settled == pytest.approx(0.3 * abs(h[0]), rel=1e-3)


def true_peak(x):
    """4x oversampled peak (scipy polyphase resampler, an independent interpolator)."""
    up = signal.resample_poly(x.astype(np.float64), 4, 1, axis=0)
    return float(np.abs(up).max())


def test_limiter_holds_a_hot_mix_under_minus_1_dbtp():
    n = 3 * SR
    t = np.arange(n) / SR
    rng = np.random.default_rng(7)
    # Hot and nasty: noise, a near-Nyquist tone (big inter-sample peaks) and bursts, then +12 dB.
    left = 0.4 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * 11025.3 * t + 0.7)
    right = 0.6 * np.sin(2 * np.pi * 997 * t) * (1 + (np.sin(2 * np.pi * 1.5 * t) > 0.5))
    stems = np.stack([np.stack([left, right])]).astype(np.float32)
    out = render_mix(stems, 12.0, 0.0, False, False, 0.0, SR, 128)
    ceiling = 10 ** (-1 / 20)
    assert true_peak(out) <= ceiling
    assert np.abs(out).max() > 0.7  # limited, not silenced


def test_limiter_is_transparent_on_quiet_material():
    stems = noise(4, 20000, seed=9, scale=0.05)
    engine_out = render_mix(stems, -6.0, 0.3, False, False, 0.0, SR, 333)
    plain = MixKernel(4, 20000, SR, limiter=False)
    controls = (np.full(4, -6.0), np.full(4, 0.3), np.zeros(4, bool), np.zeros(4, bool), 0.0)
    plain.reset(*controls)
    ref = np.zeros((20000, 2), np.float32)
    plain.process(stems, ref, *controls)
    assert np.abs(ref).max() < 0.8
    np.testing.assert_array_equal(engine_out, ref)  # bit-exact, latency compensated


def full_strip_engine(stems, block):
    n_stems = stems.shape[0]
    engine = Engine(SR, max_block=block, max_stems=n_stems)
    engine.load(stems, [str(i) for i in range(n_stems)])
    rows = strip_rows(n_stems, seed=5)
    for i in range(n_stems):
        r = rows[i]
        engine.set_eq(i, r[dsp.P_EQ_LOW], r[dsp.P_EQ_MID], r[dsp.P_EQ_HIGH])
        engine.set_filters(i, r[dsp.P_HP], r[dsp.P_LP])
        engine.set_sends(i, 0.3 + 0.1 * i, 0.5 - 0.1 * i)
    engine.set_reverb(0.7, 0.4, 0.8)
    engine.set_delay(0.5, 0.5, 0.7)
    engine.set_bpm(128.0)
    engine.set_master_gain_db(3.0)
    return engine


@pytest.mark.parametrize("block", [64, 1024, 4096])
def test_full_strip_is_block_size_independent(block):
    stems = noise(3, 3 * 4096 + 123, seed=12, scale=0.2)
    results = []
    for b in (block, 4096 if block != 4096 else 64):
        engine = full_strip_engine(stems, b)
        engine.play()
        out = np.zeros((stems.shape[2], 2), np.float32)
        for a in range(0, stems.shape[2], b):
            engine.process(out[a : a + b])
        assert engine.callback_errors == 0, engine.last_error
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    assert true_peak(results[0]) <= 10 ** (-1 / 20)


def test_sends_feed_the_buses_post_fader():
    # An impulse sent only to the delay: the echo appears `beats` later at send * wet level.
    stems = np.zeros((1, 2, SR), np.float32)
    stems[0, :, 100] = 0.5
    engine = Engine(SR, max_block=512, max_stems=1)
    engine.load(stems, ["click"])
    engine.set_bpm(120.0)
    engine.set_delay(0.5, 0.5, 1.0)  # 0.25 s = 12000 frames
    engine.set_sends(0, 0.0, 0.8)
    engine.set_gain_db(0, -6.0)
    engine.play()
    out = np.zeros((SR, 2), np.float32)
    for a in range(0, SR, 512):
        engine.process(out[a : a + 512])
    g = 10 ** (-6 / 20)
    assert out[100, 0] == pytest.approx(0.5 * g, rel=1e-6)
    assert out[12100, 0] == pytest.approx(0.5 * g * 0.8, rel=1e-6)
    assert out[24100, 0] == pytest.approx(0.5 * g * 0.8 * 0.5, rel=1e-6)
    rest = out.copy()
    rest[[100, 12100, 24100, 36100]] = 0
    assert np.abs(rest).max() < 1e-6
    # Reverb: a send gives a decaying tail; no send, nothing after the dry sound.
    engine.load(stems, ["click"])
    engine.set_sends(0, 0.5, 0.0)
    engine.play()
    for a in range(0, SR, 512):
        engine.process(out[a : a + 512])
    tail = out[2000:20000, 0]
    assert 1e-4 < np.abs(tail).max() < 0.1
    assert np.abs(out[-4800:]).max() < np.abs(tail[:4800]).max()


def test_loudness_helpers():
    from audio.loudness import integrated_loudness, true_peak_dbtp

    t = np.arange(3 * SR) / SR
    sine = 0.5 * np.sin(2 * np.pi * 997 * t)
    stereo = np.stack([sine, sine], axis=1)
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LKFS, in both 0 LKFS.
    assert integrated_loudness(stereo, SR) == pytest.approx(20 * np.log10(0.5), abs=0.1)
    assert integrated_loudness(stereo[:, :1] * [1.0], SR) == pytest.approx(-9.03, abs=0.1)
    assert integrated_loudness(np.zeros((SR, 2)), SR) == float("-inf")
    assert true_peak_dbtp(stereo) == pytest.approx(20 * np.log10(0.5), abs=0.05)
