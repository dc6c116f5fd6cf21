"""The client core against a real platform process: sessions, errors, stem loading, drafts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.client import AuthError, PlatformClient, PlatformUnavailable
from app.drafts import DraftStore
from app.embedded import start_platform
from core.contract import RemixDocument, StemSettings
from server.clock import advance_offset_file


@pytest.fixture
def fan(platform) -> PlatformClient:
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    return client


def test_login_and_account(platform):
    client = PlatformClient(platform.url)
    account = client.login("fan", "encore-demo")
    assert account.username == "fan"
    assert account.tier == "superfan"
    assert client.signed_in


def test_wrong_password_is_an_auth_error_with_advice(platform):
    client = PlatformClient(platform.url)
    with pytest.raises(AuthError) as err:
        client.login("fan", "wrong")
    assert "password" in err.value.message.lower()
    assert not client.signed_in


def test_unreachable_platform_says_what_to_do():
    client = PlatformClient("http://127.0.0.1:9", timeout=(1, 1))
    with pytest.raises(PlatformUnavailable) as err:
        client.login("fan", "encore-demo")
    assert "Can't reach the platform" in err.value.message


def test_expired_access_token_is_refreshed_transparently(tmp_path, demo_cache):
    platform = start_platform(
        tmp_path / "short",
        extra_args=["--access-ttl", "60", "--test-clock"],
        env={"ENCORE_DEMO_CACHE": str(demo_cache)},
    )
    try:
        client = PlatformClient(platform.url)
        client.login("fan", "encore-demo")
        advance_offset_file(platform.data_dir, 61)  # the platform's clock, not a sleep
        assert client.tracks()  # the first call met 401 token_expired, refreshed, retried

        # A request on its way while another thread refreshes (as a track's stems download):
        # the refresh revokes the pair it carries, so the platform answers "signed out or
        # replaced". It is sent again with the new pair, not shown as a sign-out. The network's
        # delay is made here by holding that one request back until the refresh is done.
        track_id = client.tracks()[0].id
        advance_offset_file(platform.data_dir, 61)
        send, refreshed, held = client._http.request, threading.Event(), threading.Event()

        def delayed(method, url, **kwargs):
            if threading.current_thread().name.startswith("held") and not held.is_set():
                held.set()
                assert refreshed.wait(30)
            return send(method, url, **kwargs)

        client._http.request = delayed
        late = ThreadPoolExecutor(1, thread_name_prefix="held").submit(client.track, track_id)
        assert held.wait(30)
        assert client.tracks()  # this one meets token_expired and refreshes
        refreshed.set()
        assert late.result(30).id == track_id
        assert client.signed_in
    finally:
        platform.stop()


def test_drafts_round_trip_and_set_damaged_ones_aside(tmp_path):
    store = DraftStore(tmp_path)
    doc = RemixDocument(
        track_id="t1",
        track_version=1,
        title="Mine",
        stems={"a": StemSettings(gain_db=-3.5, mute=True)},
    )
    path = store.save(doc)
    assert store.load("t1") == doc
    path.write_text("{ not json")
    assert store.load("t1") is None
    assert path.with_suffix(".damaged").exists()  # kept for the user, not silently deleted
