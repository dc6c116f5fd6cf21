"""OutputStream on a real clocked device: the JACK dummy backend (48 kHz, period 128)."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest
import sounddevice as sd

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


def test_plays_on_jack_and_counts_its_dropouts(jackd):  # noqa: F811
    # Whether this machine keeps up with real time is a benchmark's question
    # (benchmarks/engine.py --soak); a test asks that sound goes out through the real device in
    # whole blocks and that every dropout the device or the ring had is counted, never that there
    # were none: a busy machine drops JACK periods even for a callback that only writes zeros.
    engine = Engine(SR, max_block=1024)
    engine.load(synthetic_stems(), ["drums", "bass", "keys", "vocals"])
    engine.set_gain_db(0, -6.0)
    stream = OutputStream(engine, device=jackd, blocksize=BLOCK)
    try:
        assert 0 < stream.latency_seconds < 0.1
        stream.start()
        assert stream.active
        engine.play()
        assert wait_until(lambda: engine.position_seconds > 0.5, 10.0)
        stream.stop()
        assert not stream.active
    finally:
        stream.close()
    assert engine.frames_rendered == engine.callback_count * BLOCK  # fixed-size blocks
    assert engine.callback_errors == 0, engine.last_error
    assert engine.output_peak > 0.01 and engine.playing
    assert engine.underflows == stream.ring_underflows + stream.portaudio_underflows


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
        deadline = time.monotonic() + 30.0  # a busy machine runs JACK late, never not at all
        while engine.callback_count == count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.callback_count > count
        stream.detach()  # given up on: the callback leaves the engine alone
        count = engine.callback_count
        time.sleep(0.2)
        assert engine.callback_count == count and stream.active
    finally:
        stream.close()


# -- the compiled callback and its ring ----------------------------------------------------------


def ramp_engine(seconds=3.0):
    """An engine playing one stem whose left channel is a slow ramp (right: its negative), so
    every sample says where in the stem it came from."""
    n = int(seconds * SR)
    ramp = (np.arange(n) / n * 0.5).astype(np.float32)
    engine = Engine(SR, max_block=1024)
    engine.load(np.stack([np.stack([ramp, -ramp])]), ["ramp"])
    return engine, ramp


def loop_back_once(device):
    """Play the ramp through OutputStream with its JACK ports wired into an input stream of the
    same server; returns (stream, engine, ramp, recorded frames, capture problems)."""
    engine, ramp = ramp_engine(10.0)
    recorded = np.zeros((8 * SR, 2), dtype=np.float32)
    filled, capture_problems = [0], [0]

    def record(indata, frames, time_info, status):
        capture_problems[0] += bool(status)  # a period the capture side itself lost or got late
        at = filled[0]
        take = min(frames, len(recorded) - at)
        recorded[at : at + take] = indata[:take]
        filled[0] = at + take

    capture = sd.InputStream(
        device=device, samplerate=SR, blocksize=BLOCK, channels=2, dtype="float32", callback=record
    )
    stream = OutputStream(engine, device=device, blocksize=BLOCK)
    try:
        capture.start()
        stream.start()
        for ours, theirs in zip(client_ports(":out_"), client_ports(":in_"), strict=True):
            subprocess.run(["jack_connect", ours, theirs], check=True, timeout=10)
        engine.play()
        # Half a second of the ramp recorded (on a busy machine the start may be late).
        wait_until(lambda: np.count_nonzero(recorded[: filled[0], 0]) >= SR // 2, 20.0)
        stream.stop()
        capture.stop()
    finally:
        stream.close()
        capture.close()
    return stream, engine, ramp, recorded[: filled[0]], capture_problems[0]


def ramp_breaks(recorded_left: np.ndarray, ramp: np.ndarray) -> int:
    """How many times the recorded ramp breaks (a gap of zeros or a jump), after checking that
    every recorded sample is a sample of the ramp and that none repeats or comes out of order."""
    played = np.nonzero(recorded_left)[0]
    assert played.size > SR // 4, "nothing arrived"
    values = recorded_left[played]
    where = np.rint(values / ramp[1]).astype(np.int64)
    assert np.allclose(values, ramp[where], rtol=0, atol=1e-6), "a sample that is not the ramp's"
    assert np.all(np.diff(where) > 0), "a sample repeated or out of order"
    contiguous = (np.diff(where) == 1) & (np.diff(played) == 1)
    return int(np.count_nonzero(~contiguous))


def client_ports(kind):
    """This process's JACK ports of one kind (PortAudio numbers them on from earlier streams)."""
    listing = subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True, timeout=10)
    ports = [p for p in listing.stdout.split() if kind in p and not p.startswith("system:")]
    assert len(ports) == 2, listing.stdout
    return sorted(ports, key=lambda p: int(p.rsplit("_", 1)[1]))


@pytest.mark.skipif(
    shutil.which("jack_connect") is None, reason="needs jack_connect and jack_lsp (jackd2)"
)
def test_a_known_signal_arrives_intact_through_the_ring(jackd):  # noqa: F811
    # What the compiled callback hands JACK, captured inside the same JACK graph: every sample is
    # the ramp's, in order, none repeated; where it breaks (a zero-filled gap or a jump) a dropout
    # was counted, on our side or the capture's. A busy machine may drop periods; it may not
    # corrupt, reorder or silently lose audio.
    stream, engine, ramp, recorded, capture_problems = loop_back_once(jackd)
    breaks = ramp_breaks(recorded[:, 0], ramp)
    counted = engine.underflows + capture_problems
    assert breaks <= counted, (breaks, engine.underflows, capture_problems)
    played = np.nonzero(recorded[:, 0])[0]
    assert np.array_equal(recorded[played, 1], -recorded[played, 0])  # both channels

    # The ring's books balance: everything rendered went in, the callback took it out in
    # device periods, and the engine's counters follow the device.
    written, read = stream.ring_frames
    assert written == engine.callback_count * BLOCK == engine.frames_rendered
    assert 0 <= written - read <= stream.ring_blocks * BLOCK
    assert read == stream.device_callbacks * BLOCK - stream.ring_underflow_frames
    assert engine.underflows == stream.ring_underflows + stream.portaudio_underflows
    assert engine.callback_errors == 0, engine.last_error


def test_reported_latency_includes_the_ring(jackd):  # noqa: F811
    engine = Engine(SR, max_block=1024)
    with OutputStream(engine, device=jackd, blocksize=BLOCK) as stream:
        assert stream.ring_blocks == 4  # 3 blocks (8 ms) of slack for the render thread
        ring = stream.ring_blocks * BLOCK / SR
        assert stream.ring_latency_seconds == pytest.approx(ring)
        assert stream.latency_seconds == pytest.approx(float(stream._stream.latency) + ring)
    with OutputStream(engine, device=jackd, blocksize=1024) as stream:
        assert stream.ring_blocks == 2  # at least one whole block of slack


class StallingEngine(Engine):
    """An engine whose render thread falls behind once (a 50 ms stall after block 100)."""

    def process(self, out):
        super().process(out)
        if self.callback_count == 100:
            time.sleep(0.05)


def test_a_late_render_thread_is_silence_counted_as_underflow(jackd):  # noqa: F811
    engine = StallingEngine(SR, max_block=1024)
    engine.load(synthetic_stems(), ["drums", "bass", "keys", "vocals"])
    stream = open_stream(engine, jackd, BLOCK)
    try:
        engine.play()
        assert wait_until(lambda: engine.callback_count > 200, 3.0)
        assert stream.ring_underflows >= 1  # the callback zero-filled; it did not wait
        assert wait_until(lambda: engine.underflows >= stream.ring_underflows, 1.0)
        count = engine.callback_count
        assert wait_until(lambda: engine.callback_count > count + 50, 2.0)  # and it plays on
    finally:
        stream.close()


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
