"""Helpers shared by the platform test modules (policy, artist, splits, anti-spam)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.plugins.platform import REPO, login

PASSWORD = "encore-test-pw"


class Api:
    """requests with a base URL, a bearer token and a timeout on every call."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(
            method, f"{self.url}/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def submit(self, doc: dict, key: str | None = None) -> requests.Response:
        return self(
            "POST", "/remixes", json=doc, headers={"Idempotency-Key": key or uuid.uuid4().hex}
        )


def as_demo(url: str, username: str) -> Api:
    return Api(url, login(url, username)["access_token"])


def create_user(
    url: str, data_dir: Path, username: str, tier: str = "superfan", artist: bool = False
) -> Api:
    """A fresh account through the operator CLI (a fresh daily quota, no earlier remixes)."""
    cmd = [sys.executable, "-m", "server.cli", "create-user", username, "--tier", tier]
    cmd += ["--password", PASSWORD, "--data-dir", str(data_dir)]
    if artist:
        cmd.append("--artist")
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=60)
    return Api(url, login(url, username, PASSWORD)["access_token"])


def assert_error(resp: requests.Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text[:800]
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert len(message) > 10  # a sentence a person can act on, not a bare code
    return message


def wait_for_status(api: Api, remix_id: str, timeout: float = 180.0) -> dict:
    """Poll until the pipeline is done with a remix. Renders queue behind one worker, and a
    loaded CI machine is slow: the bound only catches a pipeline that hangs."""
    deadline = time.monotonic() + timeout
    while True:
        info = api("GET", f"/remixes/{remix_id}").json()
        if info["status"] not in ("received", "rendering") or time.monotonic() > deadline:
            return info
        time.sleep(0.1)


def stem_ids(track: dict) -> list[str]:
    return [s["id"] for s in track["stems"]]


def doc_for(track: dict, stems: dict | None = None, **overrides: Any) -> dict:
    """A valid document: by default the first stem 6 dB down (a clear rebalance)."""
    ids = stem_ids(track)
    return {
        "format": "encore.remix/1",
        "track_id": track["id"],
        "track_version": track["version"],
        "title": "Test remix",
        "stems": {ids[0]: {"gain_db": -6.0}} if stems is None else stems,
    } | overrides


def unique_mix(track: dict, **stem_settings: Any) -> dict:
    """Stem settings no other test submits: every stem at its own random level (-30..-1 dB),
    `stem_settings` (e.g. mute=True) on the second. Modules share a platform and run in any
    order (two processes): a fixed recipe may meet another module's identical or near-identical
    one (levels within 1 dB), which the duplicate rules refuse."""
    rng = random.Random(uuid.uuid4().int)
    mix = {sid: {"gain_db": round(rng.uniform(-30.0, -1.0), 1)} for sid in stem_ids(track)}
    if stem_settings:
        mix[stem_ids(track)[1]] |= stem_settings
    return mix


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
