"""Stems sealed per device (server/sealing.py, server/devices.py, docs/threat-model.md).

Each sign-in is a device with its own key; the key is derived from the 0600 platform secret and a
key id (nothing in the database decrypts anything), survives restarts, is rotated after 30 days
and is never handed out again after sign-out or revocation, so a copied cache stays
undecryptable. A scrape of the catalog is refused and logged; re-reading open tracks never is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest
import requests

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.embedded import start_platform
from app.streaming import TrackStream
from core.sealed import CacheCorrupt, open_sealed, record_slot
from server.devices import KEY_MAX_AGE
from tests.platform_helpers import wait_for
from tests.plugins.platform import login


def _get(url: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.get(f"{url}/v1{path}", headers=headers, timeout=30, **kwargs)


def _device_key(url: str, token: str) -> dict:
    resp = _get(url, "/me/device-key", token, headers={"User-Agent": "Encore/0.1 (test laptop)"})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()) == {"key_id", "key", "rotates_at"}
    return resp.json()


def test_each_sign_in_is_a_device_with_its_own_key(platform):
    first, second = login(platform.url, "fan"), login(platform.url, "fan")
    a = _device_key(platform.url, first["access_token"])
    b = _device_key(platform.url, second["access_token"])
    assert len(base64.b64decode(a["key"], validate=True)) == 32
    assert a["key"] != b["key"] and a["key_id"] != b["key_id"]
    assert _device_key(platform.url, first["access_token"]) == a  # stable for the device
    assert requests.get(f"{platform.url}/v1/me/device-key", timeout=10).status_code == 401

    devices = _get(platform.url, "/me/devices", first["access_token"]).json()["devices"]
    mine = {d["id"]: d for d in devices}
    current = [d for d in devices if d["current"]]
    assert len(current) == 1 and current[0]["name"] == "Encore/0.1 (test laptop)"
    assert len(mine) >= 2


def test_a_revoked_device_cannot_open_its_copied_cache(platform, tmp_path):
    """The fan's laptop cached a stem; someone copies the cache. The fan signs the laptop out
    from another device: the copy stays ciphertext, whoever signs in afterwards."""
    laptop = PlatformClient(platform.url)
    laptop.login("fan", "encore-demo")
    cache = EncryptedCache(tmp_path / "cache", laptop.content_key())
    detail = laptop.track(laptop.tracks()[0].id)
    stream = TrackStream(laptop, detail, cache, lambda: 0)
    stream.start()
    try:
        assert wait_for(lambda: stream.seekable, 30)
    finally:
        stream.stop()
    name = stream.cache_name(detail.stems[0])
    plain = cache.read_all(name)
    assert hashlib.sha256(plain).hexdigest() == detail.stems[0].sha256
    assert plain not in cache.path(name).read_bytes()  # the disk holds only the sealed form

    phone = login(platform.url, "fan")
    devices = _get(platform.url, "/me/devices", phone["access_token"]).json()["devices"]
    laptop_id = next(
        d["id"] for d in devices if d["name"].startswith("Encore/") and not d["current"]
    )
    resp = requests.delete(
        f"{platform.url}/v1/me/devices/{laptop_id}",
        headers={"Authorization": f"Bearer {phone['access_token']}"},
        timeout=10,
    )
    assert resp.status_code == 204
    with pytest.raises(Exception) as refused:
        laptop.content_key()
    assert getattr(refused.value, "status", None) == 401
    remaining = _get(platform.url, "/me/devices", phone["access_token"]).json()["devices"]
    assert laptop_id not in {d["id"] for d in remaining}

    # With the password, a thief signs in again: a new device, a new key; the copy stays shut.
    thief = PlatformClient(platform.url)
    thief.login("fan", "encore-demo")
    copied = EncryptedCache(tmp_path / "cache", thief.content_key())
    with pytest.raises(CacheCorrupt):
        copied.read_all(name)
    # The stem itself, fetched anew, is sealed differently for the new device.
    fresh = b"".join(thief.stem_range(detail.id, detail.stems[0].id, 0, record_slot(1) - 1))
    assert fresh != cache.path(name).read_bytes()[: len(fresh)]


def test_sign_out_retires_the_key(platform):
    tokens = login(platform.url, "fan")
    _device_key(platform.url, tokens["access_token"])
    out = requests.post(
        f"{platform.url}/v1/auth/logout",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert out.status_code == 204
    assert _get(platform.url, "/me/device-key", tokens["access_token"]).status_code == 401


def test_keys_derive_from_the_0600_secret_survive_restarts_and_rotate(tmp_path, demo_env):
    proc = start_platform(tmp_path, env=demo_env)
    try:
        tokens = login(proc.url, "fan")
        first = _device_key(proc.url, tokens["access_token"])
    finally:
        proc.stop()
    secret_file = tmp_path / "platform-secret.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    expected = hmac.new(
        secret_file.read_bytes(), f"device-key:{first['key_id']}".encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(first["key"]) == expected
    # The database holds the key id, never the key.
    with sqlite3.connect(tmp_path / "platform.sqlite3") as db:
        row = db.execute("SELECT * FROM devices WHERE key_id = ?", (first["key_id"],)).fetchone()
        assert row is not None and first["key"] not in repr(row)
        # A month on (the clock is the database's: the key's age is all that counts).
        aged = (datetime.now(UTC) - KEY_MAX_AGE - timedelta(minutes=1)).isoformat(" ")
        db.execute("UPDATE devices SET key_created_at = ?", (aged,))
    proc = start_platform(tmp_path, env=demo_env)
    try:
        rotated = _device_key(proc.url, tokens["access_token"])
        assert rotated["key_id"] != first["key_id"] and rotated["key"] != first["key"]
        assert _device_key(proc.url, tokens["access_token"]) == rotated
    finally:
        proc.stop()


def test_a_catalog_scrape_is_refused_and_logged_open_tracks_keep_streaming(tmp_path, demo_env):
    proc = start_platform(tmp_path, env={**demo_env, "ENCORE_DELIVERY_TRACKS_PER_HOUR": "1"})
    try:
        token = login(proc.url, "fan")["access_token"]
        tracks = _get(proc.url, "/tracks", token).json()["tracks"]
        first, second = (_get(proc.url, f"/tracks/{t['id']}", token).json() for t in tracks[:2])

        def stem(track: dict, i: int, **kwargs) -> requests.Response:
            path = f"/tracks/{track['id']}/stems/{track['stems'][i]['id']}/audio"
            return _get(proc.url, path, token, **kwargs)

        for i in range(len(first["stems"])):  # a whole track, then seeks: never refused
            assert stem(first, i, headers={"Range": "bytes=0-99"}).status_code == 206
            assert stem(first, i, headers={"Range": "bytes=5000-9999"}).status_code == 206
        refused = stem(second, 0, headers={"Range": "bytes=0-99"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "delivery_limit"
        assert "keep streaming" in refused.json()["error"]["message"]
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert stem(first, 0).status_code == 200  # the open track still streams
        # The artist previews their own tracks without limit.
        artist = login(proc.url, "artist")["access_token"]
        for t in tracks[:2]:
            detail = _get(proc.url, f"/tracks/{t['id']}", artist).json()
            path = f"/tracks/{t['id']}/stems/{detail['stems'][0]['id']}/audio"
            assert _get(proc.url, path, artist, headers={"Range": "bytes=0-9"}).status_code == 206
    finally:
        proc.stop()
    assert any("possible catalog scrape" in line for line in proc.log), proc.log[-5:]


def test_open_sealed_refuses_a_damaged_stem(platform):
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    detail = client.track(client.tracks()[0].id)
    stem = detail.stems[0]
    sealed = bytearray(b"".join(client.stem_range(detail.id, stem.id, 0, 10**12)))
    key = client.content_key()
    assert hashlib.sha256(open_sealed(key, bytes(sealed))).hexdigest() == stem.sha256
    sealed[record_slot(2) + 40] ^= 1
    with pytest.raises(CacheCorrupt):
        open_sealed(key, bytes(sealed))


def test_a_key_rotated_mid_download_refills_the_cache(platform, tmp_path):
    """A month on, the platform seals under the device's new key while the studio still holds
    the old one: the stream takes the new key, fetches the stem again, and plays it intact."""
    laptop = PlatformClient(platform.url)
    laptop.login("fan", "encore-demo")
    cache = EncryptedCache(tmp_path / "cache", laptop.content_key())
    detail = laptop.track(laptop.tracks()[0].id)
    stem = detail.stems[0]
    name = TrackStream(laptop, detail, cache, lambda: 0).cache_name(stem)
    writer = cache.writer(name, stem.size, cache.file_id(stem.sha256))  # 2 records, old key
    sealed = b"".join(laptop.stem_range(detail.id, stem.id, record_slot(0), record_slot(2) - 1))
    assert writer.write_sealed(0, sealed) == len(sealed)
    writer.close()

    device = next(d.id for d in laptop.devices() if d.current)
    with sqlite3.connect(platform.data_dir / "platform.sqlite3") as db:
        aged = (datetime.now(UTC) - KEY_MAX_AGE - timedelta(minutes=1)).isoformat(" ")
        db.execute("UPDATE devices SET key_created_at = ? WHERE session_id = ?", (aged, device))

    stream = TrackStream(laptop, detail, cache, lambda: 0)
    stream.start()
    try:
        assert wait_for(lambda: stream.seekable or stream.failure is not None, 30)
    finally:
        stream.stop()
    assert stream.failure is None and stream.seekable
    assert cache.file_id(stem.sha256) != writer.file_id  # the new key
    assert hashlib.sha256(cache.read_all(name)).hexdigest() == stem.sha256
