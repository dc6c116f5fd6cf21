"""The client core against a real platform process: sessions, errors, stem loading, drafts."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from app.client import AuthError, PlatformClient, PlatformError, PlatformUnavailable
from app.contract import RemixDocument, StemSettings
from app.drafts import DraftStore
from app.embedded import start_platform
from app.stems import decode_stem, load_track


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


def test_load_track_decodes_every_stem_in_memory(fan):
    summary = fan.tracks()[0]
    detail = fan.track(summary.id)
    seen: dict[int, float] = {}
    track = load_track(fan, detail, progress=lambda i, f: seen.__setitem__(i, f))
    assert track.audio.dtype == np.float32
    assert track.audio.shape[:2] == (len(detail.stems), 2)
    assert track.audio.shape[2] == pytest.approx(detail.duration * track.sample_rate, abs=2)
    assert all(seen[i] == 1.0 for i in range(len(detail.stems)))
    rms = np.sqrt(np.mean(track.audio[:, :, : 48000 * 20] ** 2, axis=(1, 2)))
    assert (rms > 1e-4).all(), rms  # every stem carries sound somewhere in the first 20 s


def test_damaged_stem_bytes_are_refused(fan):
    detail = fan.track(fan.tracks()[0].id)
    stem = detail.stems[0]
    with pytest.raises(PlatformError) as err:
        fan.stem_audio(detail.id, stem.id, expected_sha256="0" * 64)
    assert err.value.code == "checksum_mismatch"
    data = fan.stem_audio(detail.id, stem.id, expected_sha256=stem.sha256)
    with pytest.raises(PlatformError) as err:
        decode_stem(data[: len(data) // 50] + b"\x00" * 4096, stem)
    assert err.value.code == "decode_failed"


def test_expired_access_token_is_refreshed_transparently(tmp_path, demo_cache):
    platform = start_platform(
        tmp_path / "short",
        extra_args=["--access-ttl", "1"],
        env={"ENCORE_DEMO_CACHE": str(demo_cache)},
    )
    try:
        client = PlatformClient(platform.url)
        client.login("fan", "encore-demo")
        time.sleep(1.5)
        assert client.tracks()  # the first call met 401 token_expired, refreshed, retried
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


def test_client_never_writes_audio(fan, tmp_path, monkeypatch):
    """Loading a track leaves no file any decoder can open, in temp or home."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    detail = fan.track(fan.tracks()[0].id)
    load_track(fan, detail)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            with pytest.raises(sf.LibsndfileError):
                sf.info(str(path))
