"""Engine.process without a device: transport, fades, loads, end of track, faults, offline."""

from __future__ import annotations

import numpy as np
import pytest

from audio.engine import Engine
from audio.mixer import MixKernel
from audio.offline import render_mix
from tests.test_mixer import reference_mix

SR = 48000
BLOCK = 256
FADE = round(0.005 * SR)  # 240 frames


def random_stems(n_stems, n_frames, seed=0, scale=0.1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_stems, 2, n_frames)) * scale).astype(np.float32)


def position_stem(n_frames):
    """One stem: left = a slow ramp that encodes the frame index, right = a 1 kHz sine."""
    t = np.arange(n_frames)
    stems = np.empty((1, 2, n_frames), dtype=np.float32)
    stems[0, 0] = 0.9 * t / n_frames
    stems[0, 1] = 0.5 * np.sin(2 * np.pi * 1000.0 * t / SR)
    return stems


def run(engine, n_blocks, block=BLOCK):
    out = np.full((n_blocks * block, 2), np.nan, dtype=np.float32)
    for b in range(n_blocks):
        engine.process(out[b * block : (b + 1) * block])
    return out


def max_step(x):
    return float(np.abs(np.diff(x.astype(np.float64))).max())


def test_play_from_zero_gives_the_reference_mix():
    stems = random_stems(5, 10 * BLOCK, seed=3)
    engine = Engine(SR, max_block=1024, max_stems=8)
    engine.load(stems, list("abcde"))
    assert engine.n_stems == 5 and engine.names == list("abcde")
    assert engine.duration_frames == 10 * BLOCK
    gain_db, pan = np.array([-3.0, 0, 2, -96, -10]), np.array([0, -0.5, 1, 0, 0.3])
    mute = np.array([0, 0, 0, 0, 1], bool)
    for i in range(5):
        engine.set_gain_db(i, gain_db[i])
        engine.set_pan(i, pan[i])
        engine.set_mute(i, mute[i])
    engine.set_master_gain_db(-1.5)
    engine.play()
    assert engine.playing
    out = run(engine, 4)
    ref = reference_mix(stems, gain_db, pan, mute, np.zeros(5, bool), -1.5)
    np.testing.assert_allclose(out, ref[: 4 * BLOCK], atol=1e-6, rtol=0)
    assert out[0].any()  # no fade-in at frame 0
    assert engine.position_seconds == 4 * BLOCK / SR
    assert engine.callback_count == 4 and engine.frames_rendered == 4 * BLOCK
    stem_peaks, master_peak = engine.meters()
    assert stem_peaks.shape == (5,) and stem_peaks[3] == 0.0 and stem_peaks[4] == 0.0
    assert master_peak == pytest.approx(np.abs(ref[3 * BLOCK : 4 * BLOCK]).max(axis=0))


def test_seek_lands_on_the_frame_without_a_click():
    n = 2 * SR
    stems = position_stem(n)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(stems, ["pos"])
    engine.play()
    before = run(engine, 10)
    engine.seek(1.0)
    assert engine.position_seconds == 1.0  # the UI sees the target at once
    after = run(engine, 4)
    # Block 0: fade-out of frames 2560..2815; block 1: fade-in from 48000; then unfaded.
    np.testing.assert_array_equal(after[2 * BLOCK :, 0], stems[0, 0, SR + BLOCK : SR + 3 * BLOCK])
    np.testing.assert_array_equal(after[2 * BLOCK :, 1], stems[0, 1, SR + BLOCK : SR + 3 * BLOCK])
    assert engine.position_seconds == (SR + 3 * BLOCK) / SR
    assert np.all(after[FADE:BLOCK] == 0) and after[BLOCK + FADE - 1, 0] > 0.4
    joined = np.concatenate([before, after])
    # A hard jump would step ~0.43 on the left (ramp) and up to 1.0 on the right (sine).
    assert max_step(joined[:, 0]) < 0.45 / FADE * 1.1
    natural = max_step(stems[0, 1])
    assert max_step(joined[:, 1]) < natural + 0.5 / FADE * 1.1


def test_seek_while_paused_is_immediate_and_play_fades_in():
    stems = position_stem(SR)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(stems, ["pos"])
    engine.seek(0.5)
    assert not run(engine, 1).any()
    assert engine.position_seconds == 0.5 and not engine.playing
    engine.play()
    out = run(engine, 2)
    start = SR // 2
    ramp = np.arange(1, FADE + 1) / FADE
    np.testing.assert_allclose(out[:FADE, 0], stems[0, 0, start : start + FADE] * ramp, rtol=1e-6)
    np.testing.assert_array_equal(out[FADE:, 0], stems[0, 0, start + FADE : start + 2 * BLOCK])


def test_pause_fades_out_and_holds_position():
    stems = position_stem(SR)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(stems, ["pos"])
    engine.play()
    before = run(engine, 5)
    engine.pause()
    assert not engine.playing
    fade = run(engine, 1)
    held = engine.position_seconds
    silent = run(engine, 3)
    assert held == 6 * BLOCK / SR and engine.position_seconds == held
    assert not silent.any() and np.all(fade[FADE:] == 0)
    gain = fade[:FADE, 0] / stems[0, 0, 5 * BLOCK : 5 * BLOCK + FADE]
    assert gain[0] == pytest.approx(1 - 1 / FADE, rel=1e-5)
    assert np.all(np.diff(gain) < 0)  # monotonic fade
    joined = np.concatenate([before, fade, silent])
    assert max_step(joined[:, 1]) < max_step(stems[0, 1]) + 0.5 / FADE * 1.1
    assert engine.master_rms().tolist() == [0.0, 0.0]


def test_load_while_playing_swaps_cleanly():
    a = position_stem(SR)
    b = random_stems(3, SR, seed=9, scale=0.05)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(a, ["pos"])
    engine.play()
    before = run(engine, 4)
    engine.load(b, ["x", "y", "z"])
    engine.set_gain_db(2, -6.0)  # controls set after load apply from B's first frame
    assert engine.n_stems == 3 and engine.position_seconds == 0.0 and engine.playing
    after = run(engine, 4)
    assert np.all(after[FADE:BLOCK] == 0)  # A faded out inside the first block
    ref = reference_mix(b, np.array([0, 0, -6.0]), np.zeros(3), [0] * 3, [0] * 3, 0.0)
    np.testing.assert_allclose(after[BLOCK:], ref[: 3 * BLOCK], atol=1e-6, rtol=0)
    assert max_step(np.concatenate([before, after[:BLOCK]])[:, 1]) < 0.07
    assert engine.meters()[0].shape == (3,)
    assert engine.callback_errors == 0


def test_end_of_track_pauses_and_rewinds():
    n = 3 * BLOCK + 100
    stems = random_stems(2, n, seed=4)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(stems, ["a", "b"])
    engine.play()
    out = run(engine, 6)
    ref = reference_mix(stems, [0, 0], [0, 0], [0, 0], [0, 0], 0.0)
    np.testing.assert_allclose(out[:n], ref, atol=1e-6, rtol=0)
    assert not out[n:].any()
    assert not engine.playing and engine.position_seconds == 0.0
    engine.play()  # plays again from the top
    again = run(engine, 1)
    np.testing.assert_allclose(again, ref[:BLOCK], atol=1e-6, rtol=0)


def test_fault_in_callback_outputs_silence_and_is_counted(monkeypatch):
    stems = position_stem(SR)
    engine = Engine(SR, max_block=BLOCK)
    engine.load(stems, ["pos"])
    engine.play()
    run(engine, 2)

    def broken(*args, **kwargs):  # simulating a DSP fault inside the callback
        raise FloatingPointError("simulated DSP fault")

    monkeypatch.setattr(MixKernel, "process", broken)
    out = run(engine, 3)  # must not raise
    assert not out.any() and not np.isnan(out).any()
    assert engine.callback_errors == 3
    assert "simulated DSP fault" in engine.last_error
    assert engine.meters()[1].tolist() == [0.0, 0.0]
    monkeypatch.undo()
    recovered = run(engine, 2)
    assert engine.callback_errors == 3
    assert abs(recovered[0, 0]) < 0.9 / FADE * 2  # fades back in: no click after the fault
    assert recovered[BLOCK:, 0].all()


def test_broken_output_buffer_is_contained():
    engine = Engine(SR, max_block=BLOCK)
    engine.load(random_stems(2, SR), ["a", "b"])
    engine.play()
    too_big = np.ones((BLOCK * 2, 2), dtype=np.float32)
    engine.process(too_big)  # larger than max_block: a fault, not a crash
    assert engine.callback_errors == 1 and not too_big.any()


def test_controls_validate_in_the_ui_thread():
    engine = Engine(SR, max_block=BLOCK)
    engine.load(random_stems(2, 1000), ["a", "b"])
    with pytest.raises(IndexError):
        engine.set_gain_db(2, 0.0)
    with pytest.raises(ValueError):
        engine.set_pan(0, float("nan"))
    with pytest.raises(ValueError):
        engine.load(np.zeros((2, 1, 10), np.float32), ["a", "b"])


def test_offline_render_is_block_size_independent_and_matches_live():
    stems = random_stems(6, 5 * 4096 + 77, seed=11, scale=0.2)
    rng = np.random.default_rng(5)
    gain_db, pan = rng.uniform(-20, 6, 6), rng.uniform(-1, 1, 6)
    mute = np.array([0, 0, 1, 0, 0, 0], bool)
    solo = np.array([1, 1, 1, 0, 1, 0], bool)
    renders = {
        b: render_mix(stems, gain_db, pan, mute, solo, -2.0, SR, b) for b in (64, 1024, 4096)
    }
    for b in (1024, 4096):
        np.testing.assert_array_equal(renders[b], renders[64])
    assert renders[64].shape == (stems.shape[2], 2) and renders[64].dtype == np.float32

    engine = Engine(SR, max_block=BLOCK, max_stems=6)
    engine.load(stems, [str(i) for i in range(6)])
    for i in range(6):
        engine.set_gain_db(i, gain_db[i])
        engine.set_pan(i, pan[i])
        engine.set_mute(i, mute[i])
        engine.set_solo(i, solo[i])
    engine.set_master_gain_db(-2.0)
    engine.play()
    live = run(engine, -(-stems.shape[2] // BLOCK))
    np.testing.assert_array_equal(live[: stems.shape[2]], renders[64])
    # This mix is hot (the limiter works on it); the mix itself is checked below the limiter.
    quiet = render_mix(stems, gain_db, pan, mute, solo, -20.0, SR, 64)
    ref = reference_mix(stems, gain_db, pan, mute, solo, -20.0)
    np.testing.assert_allclose(quiet, ref, atol=1e-6, rtol=0)


def test_callback_allocates_no_buffers():
    """The callback may churn small view objects, but never allocates sample buffers."""
    import tracemalloc

    stems = random_stems(16, 50 * BLOCK, seed=2)
    engine = Engine(SR, max_block=BLOCK, max_stems=16)
    engine.load(stems, [str(i) for i in range(16)])
    engine.play()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for _ in range(3):
        engine.process(out)
    tracemalloc.start()
    try:
        for i in range(30):
            engine.set_gain_db(i % 16, -6.0 * (i % 2))  # ramps active
            if i == 20:
                engine.seek(0.01)  # and a fade-out / jump / fade-in
            engine.process(out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One block of 16 stereo stems in float64 would be 64 KiB; views are ~100 bytes each.
    assert peak < 8 * 1024, peak
    assert engine.callback_errors == 0
