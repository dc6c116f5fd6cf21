"""Progressive streaming against the real local platform: correctness, memory, and faults.

Each fault is real: the platform process is killed and restarted, its stored stem files are
damaged or cut short, its access tokens expire.
"""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cache import EncryptedCache
from app.client import PlatformClient, PlatformUnavailable
from app.embedded import PlatformProcess, start_platform
from app.streaming import StemStatus, TrackStream
from audio.chunks import CHUNK_FRAMES
from core.contract import TrackDetail
from core.sealed import record_slot, sealed_size
from server.clock import advance_offset_file
from tests.platform_helpers import wait_for

RATE = 48000


def reference(client: PlatformClient, detail: TrackDetail) -> np.ndarray:
    """Every stem decoded whole, independently of the streaming path: (S, 2, N)."""
    stems = []
    for stem in detail.stems:
        data, _ = sf.read(io.BytesIO(client.stem_audio(detail.id, stem.id)), dtype="float32")
        stems.append(data.T)
    return np.stack(stems)


def record_ranges(client: PlatformClient) -> list[tuple[str, int]]:
    """Note (stem id, first byte) of every Range request the client makes; the real request is
    still made (an observer, not a stand-in)."""
    asked: list[tuple[str, int]] = []
    real_range = client.stem_range

    def recording_range(track_id, stem_id, start, end):
        asked.append((stem_id, start))
        return real_range(track_id, stem_id, start, end)

    client.stem_range = recording_range
    return asked


@pytest.fixture
def fan(platform) -> PlatformClient:
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    return client


@pytest.fixture
def cache(fan, tmp_path) -> EncryptedCache:
    return EncryptedCache(tmp_path / "cache", fan.content_key())


def open_stream(client, detail, cache, playhead: list[int]) -> TrackStream:
    stream = TrackStream(client, detail, cache, lambda: playhead[0])
    stream.start()
    return stream


def test_stream_plays_the_exact_audio_in_bounded_memory(fan, cache):
    detail = fan.track(fan.tracks()[0].id)
    playhead = [0]
    stream = open_stream(fan, detail, cache, playhead)
    try:
        assert wait_for(lambda: stream.ready_at(0), 10)
        assert wait_for(lambda: stream.seekable, 20), [s.status for s in stream.states]
        ref = reference(fan, detail)
        for seconds in (0.0, 0.49, 7.3):
            start = int(seconds * RATE)
            out = np.zeros((len(detail.stems), 2, 512), dtype=np.float32)
            assert stream.source.read(start, out) == 0
            np.testing.assert_array_equal(out, ref[:, :, start : start + 512])
        # Memory is the decode window, not the track: well under the whole decoded size.
        assert stream.source.nbytes < 0.5 * ref.nbytes
        # A seek far ahead is decoded around the new playhead within moments.
        playhead[0] = int(60 * RATE)
        assert wait_for(lambda: stream.ready_at(playhead[0]), 5)
        out = np.zeros((len(detail.stems), 2, 256), dtype=np.float32)
        assert stream.source.read(playhead[0], out) == 0
        np.testing.assert_array_equal(out, ref[:, :, playhead[0] : playhead[0] + 256])
    finally:
        stream.stop()


def test_undecoded_frames_play_silence_and_are_counted(fan, cache):
    detail = fan.track(fan.tracks()[0].id)
    stream = TrackStream(fan, detail, cache, lambda: 0)  # not started: nothing decoded yet
    out = np.ones((len(detail.stems), 2, 128), dtype=np.float32)
    assert stream.source.read(0, out) == 128
    assert not out.any()


def test_cache_holds_only_ciphertext_and_resumes_a_partial_stem(fan, cache):
    detail = fan.track(fan.tracks()[0].id)
    stem = detail.stems[0]
    data = fan.stem_audio(detail.id, stem.id)
    name = TrackStream(fan, detail, cache, lambda: 0).cache_name(stem)
    # An earlier session got 3.5 records in, as the platform sealed them for this device.
    writer = cache.writer(name, stem.size, cache.file_id(stem.sha256))
    end = record_slot(3) + writer.sealed_length(3) // 2
    sealed = b"".join(fan.stem_range(detail.id, stem.id, record_slot(0), end))
    assert not sealed.startswith(b"fLaC")  # nothing crosses in the clear
    assert writer.write_sealed(0, sealed) == record_slot(3) - record_slot(0)
    writer.close()

    asked = record_ranges(fan)
    stream = open_stream(fan, detail, cache, [0])
    try:
        assert wait_for(lambda: stream.seekable, 20)
    finally:
        stream.stop()
    assert next(start for sid, start in asked if sid == stem.id) == record_slot(3)
    assert cache.read_all(name) == data
    # The cache keeps the bytes exactly as they crossed the network.
    delivered = b"".join(fan.stem_range(detail.id, stem.id, 0, sealed_size(stem.size) - 1))
    assert cache.path(name).read_bytes() == delivered
    for path in cache.directory.iterdir():
        with pytest.raises(sf.LibsndfileError):
            sf.info(str(path))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_platform(tmp_path, demo_env):
    """A platform this test may kill, restart (same port, same data) and damage."""
    port = free_port()
    started: list[PlatformProcess] = []

    def start() -> PlatformProcess:
        p = start_platform(tmp_path / "platform", port=port, env=demo_env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def test_platform_down_then_back_resumes_without_a_hang(own_platform, tmp_path):
    platform = own_platform()
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    cache = EncryptedCache(tmp_path / "cache", client.content_key())
    detail = client.track(client.tracks()[0].id)
    platform.kill()  # the platform dies before a byte of audio arrives

    stream = open_stream(client, detail, cache, [0])
    try:
        assert wait_for(lambda: stream.reconnecting, 5)  # a clear state, not a hang
        message = next(s.message for s in stream.states if s.message)
        assert "reconnect" in message.lower() or "retrying" in message.lower()
        own_platform()  # back on the same port with the same data
        assert wait_for(lambda: stream.seekable, 30), [s.message for s in stream.states]
        assert stream.failure is None
        assert stream.ready_at(0)
    finally:
        stream.stop()


def replace_stored_stem(platform: PlatformProcess, detail: TrackDetail, damage) -> None:
    """Write a damaged copy over the platform's stored file (a new inode: the demo cache that
    the stored file may be hard-linked to stays intact)."""
    stem = detail.stems[1]
    path = platform.data_dir / "stems" / detail.id / f"{stem.id}.flac"
    data = damage(path.read_bytes())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.mark.parametrize(
    "damage, words",
    [
        (
            lambda b: (
                b[: len(b) // 2]
                + bytes(x ^ 0x5A for x in b[len(b) // 2 : len(b) // 2 + 64])
                + b[len(b) // 2 + 64 :]
            ),
            "damaged",
        ),
        (lambda b: b[: len(b) // 3], "stem"),
    ],
    ids=["corrupt", "truncated"],
)
def test_damaged_stem_gives_a_clear_message_never_noise(own_platform, tmp_path, damage, words):
    platform = own_platform()
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    detail = client.track(client.tracks()[0].id)
    replace_stored_stem(platform, detail, damage)
    cache = EncryptedCache(tmp_path / "cache", client.content_key())
    stream = open_stream(client, detail, cache, [0])
    try:
        assert wait_for(lambda: stream.failure is not None, 20), [s.status for s in stream.states]
        assert words in stream.failure.lower()
        assert stream.states[1].status == StemStatus.FAILED
        time.sleep(0.1)
        out = np.zeros((len(detail.stems), 2, CHUNK_FRAMES), dtype=np.float32)
        assert stream.source.read(0, out) == CHUNK_FRAMES  # nothing from a damaged track plays
    finally:
        stream.stop()


def test_access_token_expiring_mid_session_is_refreshed(tmp_path, demo_env):
    platform = start_platform(
        tmp_path / "short", extra_args=["--access-ttl", "60", "--test-clock"], env=demo_env
    )
    try:
        client = PlatformClient(platform.url)
        client.login("fan", "encore-demo")
        cache = EncryptedCache(tmp_path / "cache", client.content_key())
        detail = client.track(client.tracks()[0].id)
        advance_offset_file(platform.data_dir, 61)  # every stem request meets token_expired first
        stream = open_stream(client, detail, cache, [0])
        try:
            assert wait_for(lambda: stream.seekable, 30), [s.message for s in stream.states]
        finally:
            stream.stop()
    finally:
        platform.stop()


def test_logout_purges_the_cache(fan, cache):
    detail = fan.track(fan.tracks()[0].id)
    stream = open_stream(fan, detail, cache, [0])
    assert wait_for(lambda: stream.seekable, 20)
    stream.stop()
    assert any(Path(cache.directory).glob("*.enc"))
    cache.purge()
    fan.logout()
    assert not any(Path(cache.directory).glob("*.enc"))
    assert not fan.signed_in


def test_cache_stays_under_its_limit_keeping_the_open_track(fan, tmp_path):
    first, second = (fan.track(t.id) for t in fan.tracks()[:2])
    size_first = sum(s.size for s in first.stems)
    size_second = sum(s.size for s in second.stems)
    # Room for the open track plus a little: opening the second evicts the first.
    limit = max(size_first, size_second) * 1.1
    cache = EncryptedCache(tmp_path / "cache", fan.content_key(), limit_bytes=int(limit))
    for detail in (first, second):
        stream = open_stream(fan, detail, cache, [0])
        assert wait_for(lambda s=stream: s.seekable, 20)
        stream.stop()
    kept = {p.name.removesuffix(".enc") for p in cache.directory.glob("*.enc")}
    names_second = {TrackStream(fan, second, cache, lambda: 0).cache_name(s) for s in second.stems}
    assert names_second <= kept
    assert cache.usage() <= limit


def test_a_seek_downloads_around_its_target_first(fan, cache):
    """After the header, each stem's next request is the window around the playhead, so a seek
    plays long before the bytes leading up to it have arrived."""
    detail = fan.track(fan.tracks()[0].id)
    target = int(50 * RATE)
    asked = record_ranges(fan)
    stream = open_stream(fan, detail, cache, [target])  # the fan seeked before it loaded
    try:
        assert wait_for(lambda: stream.ready_at(target), 20)
        assert wait_for(lambda: stream.seekable, 20)
        ref = reference(fan, detail)
        out = np.zeros((len(detail.stems), 2, 2048), dtype=np.float32)
        assert stream.source.read(target, out) == 0
        np.testing.assert_array_equal(out, ref[:, :, target : target + 2048])
    finally:
        stream.stop()
    for stem in detail.stems:
        starts = [start for sid, start in asked if sid == stem.id]
        assert starts[0] == record_slot(0)  # the stream header first (the first record)
        estimate = stem.size * 50 / stem.duration
        assert 0.3 * estimate < starts[1] <= estimate, (stem.name, starts[:3], estimate)


def test_a_new_cache_limit_reaches_the_open_cache(qtbot, fan, tmp_path):
    from app.drafts import DraftStore
    from app.settings import Settings
    from audio.engine import Engine
    from ui.mainwindow import MainWindow
    from ui.tasks import TaskRunner

    tasks = TaskRunner()
    window = MainWindow(fan, Engine(), tasks, DraftStore(tmp_path / "d"), tmp_path / "c")
    qtbot.addWidget(window)
    ids = [t.id for t in fan.tracks()[:2]]
    for track_id in ids:
        window.open_track(track_id)
        qtbot.waitUntil(
            lambda t=track_id: (
                window.detail is not None and window.detail.id == t and window.studio.track.seekable
            ),
            timeout=20000,
        )
    window._settings_changed(Settings(cache_limit_mb=64))  # what the dialog's Apply hands over
    assert window.cache.limit_bytes == 64 * 1024 * 1024
    open_track = {window.studio.track.cache_name(s) for s in window.studio.track.stems}
    kept = {p.name.removesuffix(".enc") for p in (tmp_path / "c").glob("*.enc")}
    assert open_track <= kept
    window.close()
    tasks.wait(5000)


def test_a_loop_start_is_decoded_before_the_wrap(fan, cache):
    """The playhead sits near the end of a loop over the whole track: what plays after the wrap
    (the track's start) is decoded ahead, so the wrap is not a moment of silence."""
    detail = fan.track(fan.tracks()[0].id)
    end = max(round(s.duration * s.sample_rate) for s in detail.stems)
    here = end - 2 * RATE

    def upcoming(n: int) -> list[tuple[int, int]]:
        return [(here, end), (0, n - (end - here))]

    stream = TrackStream(fan, detail, cache, lambda: here, upcoming=upcoming)
    stream.start()
    try:
        assert wait_for(lambda: stream.ready_at(here), 10)
        assert wait_for(lambda: stream.ready_at(0) and stream.ready_at(5 * RATE), 10)
        ref = reference(fan, detail)
        out = np.zeros((len(detail.stems), 2, 512), dtype=np.float32)
        assert stream.source.read(0, out) == 0
        np.testing.assert_array_equal(out, ref[:, :, :512])
    finally:
        stream.stop()


def test_a_platform_shedding_load_delays_stems_but_loses_none(tmp_path, demo_env):
    """A busy platform answers some stem reads 503 + Retry-After at once (admission: one
    request in at a time, no waiting). The stream says it is retrying and gets every stem;
    a 503 is never a stem's permanent failure."""
    env = {**demo_env, "ENCORE_MAX_IN_FLIGHT": "1", "ENCORE_ADMISSION_WAIT": "0"}
    platform = start_platform(tmp_path / "busy", env=env)
    try:
        client = PlatformClient(platform.url)

        def admitted(call):  # as a person would: busy, so try again in a moment
            for _ in range(50):
                try:
                    return call()
                except PlatformUnavailable:
                    time.sleep(0.1)
            return call()

        admitted(lambda: client.login("fan", "encore-demo"))
        detail = admitted(lambda: client.track(admitted(client.tracks)[0].id))
        key = admitted(client.content_key)
        cache = EncryptedCache(tmp_path / "cache", key)
        messages: set[str] = set()
        stream = open_stream(client, detail, cache, [0])
        try:

            def seekable() -> bool:
                messages.update(s.message for s in stream.states if s.message)
                return stream.seekable

            assert wait_for(seekable, 60), [s.message for s in stream.states]
            assert stream.failure is None
            assert all(s.status != StemStatus.FAILED for s in stream.states)
        finally:
            stream.stop()
        assert any("Retrying in" in m for m in messages), messages  # it was shed, and said so
    finally:
        platform.stop()
