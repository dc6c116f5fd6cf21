"""GET /v1/me/content-key: a per-user key for the client's encrypted stem cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat

import requests

from app.embedded import start_platform
from tests.plugins.platform import login


def _key(url: str, user: str) -> str:
    token = login(url, user)["access_token"]
    resp = requests.get(
        f"{url}/v1/me/content-key", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    assert set(resp.json()) == {"key"}
    return resp.json()["key"]


def test_content_key_is_per_user_32_bytes_and_needs_a_token(platform):
    fan, qa = _key(platform.url, "fan"), _key(platform.url, "qa")
    assert len(base64.b64decode(fan, validate=True)) == 32
    assert fan != qa
    assert _key(platform.url, "fan") == fan  # stable across sign-ins
    resp = requests.get(f"{platform.url}/v1/me/content-key", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_token"
    spec = requests.get(f"{platform.url}/openapi.json", timeout=10).json()
    assert "/v1/me/content-key" in spec["paths"]


def test_content_key_is_hmac_of_a_0600_secret_and_survives_restarts(tmp_path, demo_env):
    proc = start_platform(tmp_path, env=demo_env)
    try:
        first = _key(proc.url, "fan")
        me = requests.get(
            f"{proc.url}/v1/me",
            headers={"Authorization": f"Bearer {login(proc.url, 'fan')['access_token']}"},
            timeout=10,
        ).json()
    finally:
        proc.stop()
    secret_file = tmp_path / "platform-secret.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    expected = hmac.new(
        secret_file.read_bytes(), f"content-key:{me['id']}".encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(first) == expected
    proc = start_platform(tmp_path, env=demo_env)
    try:
        assert _key(proc.url, "fan") == first
    finally:
        proc.stop()
