"""OutputStream on a real clocked device: the JACK dummy backend (48 kHz, period 128)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.device import (
    AudioDeviceError,
    OutputStream,
    default_output_device,
    list_output_devices,
    open_stream,
)
from audio.engine import Engine
from tests.plugins.jack import jackd  # noqa: F401  (fixture; conftest will list the plugin)

pytestmark = pytest.mark.device

SR = 48000
BLOCK = 128


def synthetic_stems(seconds=2.0, n_stems=4):
    t = np.arange(int(seconds * SR)) / SR
    stems = np.empty((n_stems, 2, t.size), dtype=np.float32)
    for s in range(n_stems):
        f = 110.0 * (s + 1)
        stems[s, 0] = 0.1 * np.sin(2 * np.pi * f * t)
        stems[s, 1] = 0.1 * np.sin(2 * np.pi * f * t + 0.5)
    return stems


def test_device_listing_finds_jack(jackd):  # noqa: F811
    outputs = list_output_devices()
    jack = [d for d in outputs if d["index"] == jackd]
    assert jack and "JACK" in jack[0]["hostapi"].upper()
    assert jack[0]["max_output_channels"] >= 2 and jack[0]["default_samplerate"] == SR
    assert default_output_device() is not None


def play_one_second(device):
    """Open, play ~1 s of wall time, close. Returns (engine, callbacks, expected callbacks)."""
    engine = Engine(SR, max_block=1024)
    engine.load(synthetic_stems(), ["drums", "bass", "keys", "vocals"])
    engine.set_gain_db(0, -6.0)
    stream = OutputStream(engine, device=device, blocksize=BLOCK)
    try:
        assert 0 < stream.latency_seconds < 0.1
        stream.start()
        assert stream.active
        engine.play()
        c0, t0 = engine.callback_count, time.monotonic()
        time.sleep(1.0)
        c1, t1 = engine.callback_count, time.monotonic()
        stream.stop()
        assert not stream.active
    finally:
        stream.close()
    return engine, c1 - c0, (t1 - t0) * SR / BLOCK


def test_plays_in_real_time_on_jack(jackd):  # noqa: F811
    # JACK reports an xrun of the whole graph as an output underflow, including cycles the
    # dummy driver itself ran late because the (shared, 2-core, virtualised) host stalled the
    # server; we saw bursts of such xruns with callbacks *missing* (the driver skipped cycles)
    # while other jobs ran. So: up to 3 attempts, and one clean attempt is required. An engine
    # too slow for real time underflows on every attempt and still fails.
    attempts = []
    for _ in range(3):
        engine, callbacks, expected = play_one_second(jackd)
        attempts.append((engine.underflows, callbacks, round(expected)))
        # <= 1: PortAudio may flag the very first period while JACK wires up the new client.
        if engine.underflows <= 1:
            break
    assert engine.underflows <= 1, f"(underflows, callbacks, expected) per attempt: {attempts}"
    assert expected * 0.75 <= callbacks <= expected * 1.25, attempts
    assert engine.frames_rendered == engine.callback_count * BLOCK  # fixed-size blocks
    assert engine.callback_errors == 0, engine.last_error
    assert engine.output_peak > 0.01
    assert 0.5 < engine.position_seconds < 2.0 and engine.playing


def test_invalid_device_name_is_a_helpful_error(jackd):  # noqa: F811
    engine = Engine(SR)
    with pytest.raises(AudioDeviceError) as info:
        OutputStream(engine, device="no such device 1234")
    message = str(info.value)
    assert "no such device 1234" in message and "system" in message  # lists what exists
    assert message.startswith("No sound: ") and message.endswith("You can still mix and submit.")


def test_open_stream_runs_and_knows_its_server(jackd):  # noqa: F811
    engine = Engine(SR, max_block=1024)
    stream = open_stream(engine, jackd, BLOCK)
    try:
        assert stream.active and not stream.stopped
        assert "JACK" in stream.hostapi.upper()
        assert not stream.server_gone  # its server runs
        count = engine.callback_count
        time.sleep(0.2)
        assert engine.callback_count > count
        stream.detach()  # given up on: the callback leaves the engine alone
        count = engine.callback_count
        time.sleep(0.2)
        assert engine.callback_count == count and stream.active
    finally:
        stream.close()
