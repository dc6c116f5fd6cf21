"""Cached catalog and track-detail responses (server/catalog_cache.py) on a real platform:
ETags and 304s, a policy change or a change made by another process seen at once, and one
caller's entitlement never served to another."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.embedded import PlatformProcess, start_platform
from tests.platform_helpers import Api, as_demo
from tests.plugins.platform import REPO

TRACK = "neon-harbor"


@pytest.fixture(scope="module")
def own(tmp_path_factory, demo_env) -> Iterator[PlatformProcess]:
    """A platform of its own: these tests change a policy and an artist's name."""
    proc = start_platform(tmp_path_factory.mktemp("catalog-cache"), env=demo_env)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def users(own) -> dict[str, Api]:
    names = ("fan", "qa", "casual", "premium", "artist", "artist2")
    return {name: as_demo(own.url, name) for name in names}


def revalidate(api: Api, path: str, etag: str):
    return api("GET", path, headers={"If-None-Match": etag})


@pytest.mark.parametrize("path", ["/tracks", f"/tracks/{TRACK}", "/tracks?q=neon"])
def test_a_current_etag_gets_304_without_a_body(users, path):
    first = users["fan"]("GET", path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"  # never in a shared cache
    again = users["fan"]("GET", path)
    assert again.json() == first.json() and again.headers["ETag"] == etag
    not_modified = revalidate(users["fan"], path, etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b"" and not_modified.headers["ETag"] == etag
    assert revalidate(users["fan"], path, '"stale"').status_code == 200


def test_entitlement_is_per_caller_whoever_asked_first(users):
    path = f"/tracks/{TRACK}"
    superfan = users["qa"]("GET", path)
    assert superfan.json()["entitled"] is True
    for name in ("casual", "premium"):  # after the Superfan's answer was cached
        other = users[name]("GET", path)
        assert other.status_code == 200
        assert other.json()["entitled"] is False
        assert "Upgrade to Superfan" in other.json()["entitlement_message"]
        # The Superfan's ETag is not theirs: a full answer, never a 304 on someone else's body.
        assert revalidate(users[name], path, superfan.headers["ETag"]).status_code == 200
    owner = users["artist"]("GET", path).json()
    assert owner["owned"] is True and owner["entitled"] is True
    assert users["fan"]("GET", path).json()["owned"] is False


def test_an_artists_hidden_track_stays_theirs(users):
    mine = {t["id"] for t in users["artist2"]("GET", "/tracks").json()["tracks"]}
    hidden = mine - {t["id"] for t in users["fan"]("GET", "/tracks").json()["tracks"]}
    assert hidden, "the demo gives artist2 a track not opted in"
    [track_id] = hidden
    assert users["artist2"]("GET", f"/tracks/{track_id}").json()["owned"] is True
    for name in ("fan", "casual", "artist"):  # after the owner's answers were cached
        assert track_id not in {t["id"] for t in users[name]("GET", "/tracks").json()["tracks"]}
        assert users[name]("GET", f"/tracks/{track_id}").status_code == 404


def test_a_policy_change_is_served_at_once(users):
    path = f"/tracks/{TRACK}"
    before = users["fan"]("GET", path)
    catalog = users["fan"]("GET", "/tracks")
    stems = [s["id"] for s in before.json()["stems"]]
    policy = before.json()["policy"] | {"allowed_stems": stems[1:]}
    assert users["artist"]("PUT", f"/tracks/{TRACK}/policy", json=policy).status_code == 200
    after = revalidate(users["fan"], path, before.headers["ETag"])
    assert after.status_code == 200
    assert after.json()["policy"]["allowed_stems"] == stems[1:]
    closed = before.json()["policy"] | {"opted_in": False}
    assert users["artist"]("PUT", f"/tracks/{TRACK}/policy", json=closed).status_code == 200
    listed = revalidate(users["fan"], "/tracks", catalog.headers["ETag"])
    assert listed.status_code == 200
    assert TRACK not in {t["id"] for t in listed.json()["tracks"]}
    assert users["fan"]("GET", path).status_code == 404
    assert users["artist"]("GET", path).json()["policy"]["opted_in"] is False
    reopened = before.json()["policy"]
    assert users["artist"]("PUT", f"/tracks/{TRACK}/policy", json=reopened).status_code == 200
    assert users["fan"]("GET", path).json() == before.json()


def test_a_change_made_by_another_process_is_served_at_once(own, users):
    """The operator CLI renames the artist: the API process's cached catalog is not served."""
    catalog = users["fan"]("GET", "/tracks")
    cmd = [sys.executable, "-m", "server.cli", "create-user", "artist", "--artist"]
    cmd += ["--tier", "superfan", "--display-name", "Renamed Artist", "--password", "encore-demo"]
    subprocess.run([*cmd, "--data-dir", str(own.data_dir)], check=True, cwd=REPO, timeout=60)
    listed = revalidate(users["fan"], "/tracks", catalog.headers["ETag"])
    assert listed.status_code == 200
    assert "Renamed Artist" in {t["artist"] for t in listed.json()["tracks"]}
