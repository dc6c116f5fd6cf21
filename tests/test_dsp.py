"""The compiled strip, buses and limiter against independent references (scipy, numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
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


# ----------------------------------------------------------------------- scalar references
# The vectorised kernels (dsp.strip_mix, dsp.reverb) must give the bits of these plain scalar
# loops, which are the kernels as first written (one lane / one delay line at a time).

_FLUSH = 1e-30


@njit(cache=True)
def strip_mix_reference(
    block, n, x, coef_cur, coef_tgt, ramp_coef, stage_on, z, lane_cur, lane_tgt, send_cur,
    send_tgt, mix, bus, use_rev, use_dly, lane_peak,
):  # fmt: skip
    n_stems = block.shape[0]
    lanes = 2 * n_stems
    inv_n = 1.0 / n
    for s in range(n_stems):
        for c in range(2):
            for t in range(n):
                x[t, 2 * s + c] = block[s, c, t]
    for k in range(5):
        active = stage_on[k]
        if ramp_coef:
            for lane in range(lanes):
                if (
                    coef_cur[k, 0, lane] != 1.0
                    or coef_cur[k, 1, lane] != 0.0
                    or coef_cur[k, 2, lane] != 0.0
                    or coef_cur[k, 3, lane] != 0.0
                    or coef_cur[k, 4, lane] != 0.0
                ):
                    active = True
        if not active:
            for lane in range(lanes):
                z[k, 0, lane] = 0.0
                z[k, 1, lane] = 0.0
            continue
        for t in range(n):
            r = (t + 1) * inv_n
            for lane in range(lanes):
                c = coef_cur[k, :, lane]
                b0, b1, b2, a1, a2 = c[0], c[1], c[2], c[3], c[4]
                if ramp_coef:
                    g = coef_tgt[k, :, lane]
                    b0 = b0 + (g[0] - b0) * r
                    b1 = b1 + (g[1] - b1) * r
                    b2 = b2 + (g[2] - b2) * r
                    a1 = a1 + (g[3] - a1) * r
                    a2 = a2 + (g[4] - a2) * r
                xi = x[t, lane]
                y = b0 * xi + z[k, 0, lane]
                v1 = b1 * xi - a1 * y + z[k, 1, lane]
                v2 = b2 * xi - a2 * y
                z[k, 0, lane] = v1 if abs(v1) > _FLUSH else 0.0
                z[k, 1, lane] = v2 if abs(v2) > _FLUSH else 0.0
                x[t, lane] = y
    if ramp_coef:
        coef_cur[:] = coef_tgt
    ramp_g = False
    for lane in range(lanes):
        if lane_cur[lane] != lane_tgt[lane]:
            ramp_g = True
        lane_peak[lane] = 0.0
    for t in range(n):
        for lane in range(lanes):
            g = lane_cur[lane]
            if ramp_g:
                g = lane_cur[lane] + (lane_tgt[lane] - lane_cur[lane]) * ((t + 1) * inv_n)
            x[t, lane] = x[t, lane] * g
            a = abs(x[t, lane])
            if a > lane_peak[lane]:
                lane_peak[lane] = a
    for t in range(n):
        m0 = 0.0
        m1 = 0.0
        for s in range(n_stems):
            m0 += x[t, 2 * s]
            m1 += x[t, 2 * s + 1]
        mix[t, 0] = m0
        mix[t, 1] = m1
    for j in range(2):
        if (j == 0 and not use_rev) or (j == 1 and not use_dly):
            continue
        for t in range(n):
            bus[t, 2 * j] = 0.0
            bus[t, 2 * j + 1] = 0.0
        for lane in range(lanes):
            s0 = send_cur[j, lane]
            s1 = send_tgt[j, lane]
            if s0 == 0.0 and s1 == 0.0:
                continue
            for t in range(n):
                level = s0 if s0 == s1 else s0 + (s1 - s0) * ((t + 1) * inv_n)
                bus[t, 2 * j + (lane & 1)] += x[t, lane] * level
    lane_cur[:] = lane_tgt
    send_cur[:] = send_tgt


@njit(cache=True)
def reverb_reference(
    bus, n, mix, comb_buf, comb_off, comb_len, comb_idx, comb_store, ap_buf, ap_off, ap_len,
    ap_idx, size, damp, wet,
):  # fmt: skip
    feedback = size * 0.28 + 0.7
    d1 = damp * 0.4
    d2 = 1.0 - d1
    peak = 0.0
    for t in range(n):
        inp = (bus[t, 0] + bus[t, 1]) * dsp.REVERB_INPUT_GAIN
        for c in range(2):
            acc = 0.0
            for j in range(8):
                cj = 8 * c + j
                o = comb_off[cj] + comb_idx[cj]
                out = comb_buf[o]
                st = out * d2 + comb_store[cj] * d1
                if abs(st) < _FLUSH:
                    st = 0.0
                comb_store[cj] = st
                comb_buf[o] = inp + st * feedback
                i = comb_idx[cj] + 1
                comb_idx[cj] = 0 if i >= comb_len[cj] else i
                acc += out
            for j in range(4):
                aj = 4 * c + j
                o = ap_off[aj] + ap_idx[aj]
                bo = ap_buf[o]
                y = bo - acc
                v = acc + bo * 0.5
                ap_buf[o] = v if abs(v) > _FLUSH else 0.0
                i = ap_idx[aj] + 1
                ap_idx[aj] = 0 if i >= ap_len[aj] else i
                acc = y
            w = acc * wet
            mix[t, c] += w
            if abs(w) > peak:
                peak = abs(w)
    return peak


def _strip_state(n_stems, rng):
    lanes = 2 * n_stems
    coef = np.zeros((dsp.N_STAGES, 5, lanes))
    coef[:, 0, :] = 1.0
    rows = strip_rows(n_stems, seed=int(rng.integers(1 << 30)))
    for s in range(n_stems):
        sos = dsp.stem_sos(rows[s], SR)
        for k in range(dsp.N_STAGES):
            coef[k, :, 2 * s : 2 * s + 2] = sos[k, [0, 1, 2, 4, 5]][:, None]
    return coef


@pytest.mark.parametrize("n_stems", [1, 2, 3, 4, 5, 8, 9])
def test_vector_strip_is_bit_identical_to_the_scalar_reference(n_stems):
    rng = np.random.default_rng(n_stems)
    lanes = 2 * n_stems
    state = {
        "coef_cur": _strip_state(n_stems, rng),
        "z": np.zeros((dsp.N_STAGES, 2, lanes)),
        "lane_cur": rng.uniform(0.0, 1.5, lanes),
        "send_cur": rng.uniform(0.0, 1.0, (2, lanes)),
    }
    state["send_cur"][0, 2:4] = 0.0  # stem 1's reverb send off
    ref = {k: v.copy() for k, v in state.items()}
    x = np.zeros((4096, lanes))
    for i, n in enumerate([500, 1, 64, 1000, 4096, 77, 333, 2048]):
        block = noise(n_stems, n, seed=100 + i, scale=0.3)
        block[:, :, : n // 3] *= 1e-36  # near-silent stretch: exercises the state flush
        if i % 4 == 3:
            block[0, 1, :] = 0.0
        coef_tgt = state["coef_cur"].copy()
        ramp_coef = i % 2 == 1
        if ramp_coef:
            coef_tgt = _strip_state(n_stems, rng)
            coef_tgt[dsp.STAGE_LP] = [[1.0], [0.0], [0.0], [0.0], [0.0]]  # LP ramps to bypass
        stage_on = np.array([np.any(coef_tgt[k] != [[1], [0], [0], [0], [0]]) for k in range(5)])
        lane_tgt = state["lane_cur"].copy() if i % 3 == 0 else rng.uniform(0.0, 1.5, lanes)
        send_tgt = state["send_cur"].copy()
        if i % 3 == 2:
            send_tgt[1, ::3] = rng.uniform(0.0, 1.0, send_tgt[1, ::3].shape)  # some ramp
            send_tgt[0, 2:4] = 0.0
        use_rev, use_dly = i != 5, i != 6
        outs = []
        for impl, st in (("vec", state), ("ref", ref)):
            mix = np.full((4096, 2), np.nan)
            bus = np.full((4096, 4), np.nan)
            peak = np.full(lanes, np.nan)
            if impl == "vec":
                strip = dsp.StripState(
                    st["coef_cur"], coef_tgt.copy(), st["z"], st["lane_cur"], lane_tgt.copy(),
                    st["send_cur"], send_tgt.copy(),
                )  # fmt: skip
                dsp.strip_mix(
                    block, n, strip, ramp_coef, stage_on, mix, bus, use_rev, use_dly, peak
                )
            else:
                strip_mix_reference(
                    block, n, x, st["coef_cur"], coef_tgt.copy(), ramp_coef, stage_on, st["z"],
                    st["lane_cur"], lane_tgt.copy(), st["send_cur"], send_tgt.copy(), mix, bus,
                    use_rev, use_dly, peak,
                )  # fmt: skip
            outs.append((mix, bus, peak))
        for a, b in zip(outs[0], outs[1], strict=True):
            np.testing.assert_array_equal(a, b)
            assert np.array_equal(a.view(np.int64), b.view(np.int64))  # incl. signed zeros/NaN
        for key in state:
            assert np.array_equal(state[key].view(np.int64), ref[key].view(np.int64)), key


def test_vector_reverb_is_bit_identical_to_the_scalar_reference():
    comb_len, ap_len = dsp.reverb_lengths(SR)
    comb_off = np.concatenate([[0], np.cumsum(comb_len)[:-1]]).astype(np.int64)
    ap_off = np.concatenate([[0], np.cumsum(ap_len)[:-1]]).astype(np.int64)
    states = []
    for _ in range(3):
        states.append(
            [
                np.zeros(int(comb_len.sum())),
                np.zeros(comb_len.size, dtype=np.int64),
                np.zeros(comb_len.size),
                np.zeros(int(ap_len.sum())),
                np.zeros(ap_len.size, dtype=np.int64),
            ]
        )
    rng = np.random.default_rng(7)
    for i, n in enumerate([1, 700, 4096, 1117, 3, 2500, 4096, 4096, 4096, 64]):
        send = rng.standard_normal((n, 4)) * 0.3
        if i >= 6:
            send[:, :2] = 0.0  # the tail decays towards the flush threshold
        size, damp, wet = (0.5, 0.5, 1.0) if i < 5 else (0.9, 0.1, 0.7)
        outs = []
        for fn, (cb, ci, cs, ab, ai) in ((dsp.reverb, states[0]), (reverb_reference, states[1])):
            bus = send.copy()
            mix = np.full((n, 2), 0.25)
            lines = (cb, comb_off, comb_len, ci, cs, ab, ap_off, ap_len, ai)
            if fn is dsp.reverb:  # wet scratch, the lines as one named tuple
                args = (np.full((2, n + 5), np.nan), dsp.ReverbLines(*lines))
            else:
                args = lines
            peak = fn(bus, n, mix, *args, size, damp, wet)
            outs.append((mix, peak))
        # the two-thread form: one channel at a time into its own row, then added
        cb, ci, cs, ab, ai = states[2]
        bus = send.copy()
        mix = np.full((n, 2), 0.25)
        wet_rows = np.full((2, n + 5), np.nan)
        peaks = [
            dsp.reverb_half(
                bus,
                n,
                c,
                wet_rows[c],
                dsp.ReverbLines(cb, comb_off, comb_len, ci, cs, ab, ap_off, ap_len, ai),
                size,
                damp,
                wet,
            )
            for c in (1, 0)
        ]
        dsp.add_wet(mix, n, wet_rows)
        outs.append((mix, max(peaks)))
        for k in (0, 2):
            assert np.array_equal(outs[k][0].view(np.int64), outs[1][0].view(np.int64)), (i, k)
            assert outs[k][1] == outs[1][1]
            for a, b in zip(states[k], states[1], strict=True):
                assert np.array_equal(a.view(np.int64), b.view(np.int64)), (i, k)


def test_render_mix_threads_are_bit_identical():
    stems = noise(5, SR * 2, seed=9, scale=0.3)
    rows = strip_rows(5, seed=3)
    rows[:, dsp.P_SEND_REVERB] = 0.4
    rows[:, dsp.P_SEND_DELAY] = 0.3
    args = (stems, np.linspace(-6, 3, 5), np.linspace(-1, 1, 5), False, False, 6.0, SR, 1024, rows)
    one = render_mix(*args, threads=False)
    two = render_mix(*args, threads=True)
    assert np.array_equal(one, two)
    assert np.abs(one).max() > 0.5
