"""The platform's HTTP API, against a real server process and a real SQLite file."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import re
import threading
import uuid
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf

from app.embedded import start_platform
from core.sealed import open_sealed, sealed_size
from server.clock import advance_offset_file
from server.sealing import SEALED_MEDIA_TYPE
from tests.platform_helpers import Api, assert_error, wait_for_status
from tests.plugins.platform import login

DEMO_USERS = ("fan", "casual", "premium", "artist", "qa")
UPGRADE = "Stems are part of the Superfan tier. Upgrade to Superfan to remix this track."


@pytest.fixture(scope="module")
def tokens(platform) -> dict[str, dict]:
    return {user: login(platform.url, user) for user in DEMO_USERS}


@pytest.fixture(scope="module")
def as_user(platform, tokens):
    return lambda user: Api(platform.url, tokens[user]["access_token"])


@pytest.fixture(scope="module")
def track(as_user) -> dict:
    tracks = as_user("fan")("GET", "/tracks").json()["tracks"]
    return as_user("fan")("GET", f"/tracks/{tracks[0]['id']}").json()


@pytest.fixture(scope="module")
def stem_bytes(as_user, track) -> bytes:
    stem = track["stems"][0]
    resp = as_user("fan")("GET", f"/tracks/{track['id']}/stems/{stem['id']}/audio")
    assert resp.status_code == 200
    return resp.content


def remix_doc(track: dict, **overrides: Any) -> dict:
    doc = {
        "format": "encore.remix/1",
        "track_id": track["id"],
        "track_version": track["version"],
        "title": "Night drive edit",
        "stems": {
            track["stems"][0]["id"]: {"gain_db": -3.0, "pan": -0.4},
            # Every document differs audibly, so none is refused as a (near) duplicate.
            track["stems"][1]["id"]: {"gain_db": -1.5 * next(_VARIANT)},
        },
        "master_gain_db": -1.0,
    }
    return doc | overrides


_VARIANT = itertools.count()


def submit(api: Api, doc: dict, key: str | None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api("POST", "/remixes", json=doc, headers=headers)


# -- accounts and sessions -----------------------------------------------------------------------


def test_health_and_openapi(platform):
    health = requests.get(f"{platform.url}/v1/health", timeout=5).json()
    assert health["status"] == "ok" and re.fullmatch(r"\d+\.\d+\.\d+\S*", health["version"])
    spec = requests.get(f"{platform.url}/openapi.json", timeout=5).json()
    assert "/v1/remixes" in spec["paths"]


@pytest.mark.parametrize("username", ["fan", "nobody"])
def test_wrong_credentials_are_401_with_advice(platform, username):
    resp = requests.post(
        f"{platform.url}/v1/auth/token",
        data={"username": username, "password": "wrong"},
        timeout=10,
    )
    message = assert_error(resp, 401, "invalid_credentials")
    assert message.startswith("Wrong username or password.")


@pytest.mark.parametrize(
    ("user", "tier", "roles", "diagnostics"),
    [
        ("fan", "superfan", ["fan"], False),
        ("casual", "free", ["fan"], False),
        ("premium", "premium", ["fan"], False),
        ("artist", "premium", ["fan", "artist"], False),
        ("qa", "superfan", ["fan"], True),
    ],
)
def test_me_for_each_demo_account(as_user, tokens, user, tier, roles, diagnostics):
    assert tokens[user]["token_type"] == "bearer"
    assert tokens[user]["expires_in"] == 900
    account = as_user(user)("GET", "/me").json()
    assert (account["username"], account["tier"]) == (user, tier)
    assert account["roles"] == roles
    assert account["diagnostics"] is diagnostics


def test_refresh_rotates_and_the_old_refresh_token_stops_working(platform):
    api = Api(platform.url)
    first = login(platform.url, "fan")
    resp = api("POST", "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert Api(platform.url, second["access_token"])("GET", "/me").status_code == 200
    assert_error(Api(platform.url, first["access_token"])("GET", "/me"), 401, "invalid_token")
    reuse = api("POST", "/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reuse, 401, "invalid_token")
    # Reusing a rotated refresh token smells of theft: the whole session is signed out.
    assert_error(Api(platform.url, second["access_token"])("GET", "/me"), 401, "invalid_token")


def test_logout_revokes_the_session(platform):
    pair = login(platform.url, "qa")
    api = Api(platform.url, pair["access_token"])
    assert api("POST", "/auth/logout").status_code == 204
    assert "signed out" in assert_error(api("GET", "/me"), 401, "invalid_token")
    again = api("POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_error(again, 401, "invalid_token")


@pytest.mark.parametrize(
    "header", [None, "Bearer ea_forged-token", "Bearer ", "Basic Zm9vOmJhcg=="]
)
def test_missing_or_forged_tokens_are_401(platform, header):
    resp = Api(platform.url)("GET", "/me", headers={"Authorization": header} if header else {})
    assert_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_expired_access_token_says_so_and_refresh_still_works(tmp_path, demo_env):
    # The platform's clock is moved past the token's expiry instead of waiting for it.
    short = start_platform(
        tmp_path / "short", extra_args=["--access-ttl", "60", "--test-clock"], env=demo_env
    )
    try:
        pair = login(short.url, "fan")
        assert pair["expires_in"] == 60
        assert Api(short.url, pair["access_token"])("GET", "/me").status_code == 200
        advance_offset_file(short.data_dir, 61)
        resp = Api(short.url, pair["access_token"])("GET", "/me")
        message = assert_error(resp, 401, "token_expired")
        assert message == "Your session has expired. Sign in again."
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        fresh = Api(short.url)(
            "POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert fresh.status_code == 200
        assert Api(short.url, fresh.json()["access_token"])("GET", "/me").status_code == 200
    finally:
        short.stop()


# -- catalog -------------------------------------------------------------------------------------


def test_track_list_and_search(as_user, track):
    api = as_user("casual")
    tracks = api("GET", "/tracks").json()["tracks"]
    assert tracks and all(t["opted_in"] for t in tracks)
    title_part = track["title"][1:5].upper()
    found = api("GET", "/tracks", params={"q": title_part}).json()["tracks"]
    assert track["id"] in [t["id"] for t in found]
    by_artist = api("GET", "/tracks", params={"q": track["artist"].lower()}).json()["tracks"]
    assert len(by_artist) == len(tracks)
    for q in ("no such song anywhere", "%", "_"):
        assert api("GET", "/tracks", params={"q": q}).json()["tracks"] == []


def test_track_detail(track):
    assert track["stems"] and track["stem_count"] == len(track["stems"])
    assert track["duration"] == pytest.approx(max(s["duration"] for s in track["stems"]))
    assert track["analysis"]["bpm"] == track["bpm"]
    assert track["policy"]["creator_share"] == 0.2
    assert track["entitled"] is True and track["entitlement_message"] is None


def test_unknown_track_is_404_naming_it(as_user):
    message = assert_error(as_user("fan")("GET", "/tracks/no-such-track"), 404, "not_found")
    assert "no-such-track" in message


def test_every_stem_arrives_sealed_and_opens_to_its_checksum(as_user, track):
    """Stems never travel in the clear: sealed for the asking device, opened with its key."""
    fan = as_user("fan")
    key = base64.b64decode(fan("GET", "/me/device-key").json()["key"])
    for stem in track["stems"]:
        resp = fan("GET", f"/tracks/{track['id']}/stems/{stem['id']}/audio")
        assert resp.status_code == 200
        assert resp.headers["content-type"] == SEALED_MEDIA_TYPE
        assert resp.headers["accept-ranges"] == "bytes"
        size = sealed_size(stem["size"])
        assert len(resp.content) == size == int(resp.headers["content-length"])
        assert b"fLaC" not in resp.content[:4096]
        with pytest.raises(sf.LibsndfileError):
            sf.info(io.BytesIO(resp.content))
        flac = open_sealed(key, resp.content)
        assert hashlib.sha256(flac).hexdigest() == stem["sha256"]
        assert sf.info(io.BytesIO(flac)).samplerate == stem["sample_rate"]


@pytest.mark.parametrize("user", ["casual", "premium"])
def test_stems_need_superfan(as_user, track, user):
    api = as_user(user)
    detail = api("GET", f"/tracks/{track['id']}").json()
    assert detail["entitled"] is False
    assert detail["entitlement_message"] == UPGRADE
    resp = api("GET", f"/tracks/{track['id']}/stems/{track['stems'][0]['id']}/audio")
    assert assert_error(resp, 403, "not_entitled") == UPGRADE


def test_the_artist_may_stream_their_own_stems(as_user, track):
    resp = as_user("artist")("GET", f"/tracks/{track['id']}/stems/{track['stems'][0]['id']}/audio")
    assert resp.status_code == 200


@pytest.mark.parametrize(
    ("range_header", "expected"),
    [
        ("bytes=0-99", slice(0, 100)),
        ("bytes=1000-1999", slice(1000, 2000)),
        ("bytes=-100", slice(-100, None)),
        ("bytes=500-", slice(500, None)),
    ],
)
def test_stem_range_requests(as_user, track, stem_bytes, range_header, expected):
    stem = track["stems"][0]
    resp = as_user("fan")(
        "GET",
        f"/tracks/{track['id']}/stems/{stem['id']}/audio",
        headers={"Range": range_header},
    )
    want = stem_bytes[expected]
    size = len(stem_bytes)
    first = expected.start if expected.start >= 0 else size + expected.start
    assert resp.status_code == 206
    assert resp.content == want
    assert int(resp.headers["content-length"]) == len(want)
    assert resp.headers["content-range"] == f"bytes {first}-{first + len(want) - 1}/{size}"


def test_unsatisfiable_range_is_416(as_user, track, stem_bytes):
    stem = track["stems"][0]
    resp = as_user("fan")(
        "GET",
        f"/tracks/{track['id']}/stems/{stem['id']}/audio",
        headers={"Range": f"bytes={len(stem_bytes)}-"},
    )
    assert_error(resp, 416, "range_not_satisfiable")
    assert resp.headers["content-range"] == f"bytes */{len(stem_bytes)}"


def test_stem_ids_are_looked_up_within_the_track(as_user, track):
    api = as_user("fan")
    others = [t for t in api("GET", "/tracks").json()["tracks"] if t["id"] != track["id"]]
    foreign = ["../platform.sqlite3", "..%2F..%2Fplatform.sqlite3", "nope"]
    if others:
        other = api("GET", f"/tracks/{others[0]['id']}").json()
        foreign += [
            s["id"] for s in other["stems"] if s["id"] not in {x["id"] for x in track["stems"]}
        ]
    for stem_id in foreign:
        resp = api("GET", f"/tracks/{track['id']}/stems/{stem_id}/audio")
        assert resp.status_code == 404, (stem_id, resp.text)
        assert resp.json()["error"]["code"] == "not_found"


# -- submissions ---------------------------------------------------------------------------------


def test_submission_is_idempotent(as_user, track):
    api = as_user("fan")
    key = str(uuid.uuid4())
    doc = remix_doc(track, title="Idempotent")
    first = submit(api, doc, key)
    assert first.status_code == 201, first.text
    info = first.json()
    assert info["status"] in ("received", "rendering", "published")
    assert info["link"] == f"encore://remix/{info['id']}"
    again = submit(api, doc, key)
    assert again.status_code == 200
    assert again.json()["id"] == info["id"]
    changed = submit(api, doc | {"title": "Something else"}, key)
    assert "Idempotency-Key" in assert_error(changed, 409, "idempotency_key_reused")


def test_submission_needs_an_idempotency_key(as_user, track):
    resp = submit(as_user("fan"), remix_doc(track), None)
    assert "Idempotency-Key" in assert_error(resp, 400, "idempotency_key_required")


def test_concurrent_submissions_with_one_key_make_one_remix(as_user, track):
    api = as_user("qa")
    key = str(uuid.uuid4())
    doc = remix_doc(track, title=f"Race {key[:8]}")
    barrier = threading.Barrier(2)
    results: list[requests.Response] = []

    def post() -> None:
        barrier.wait()
        results.append(submit(api, doc, key))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [200, 201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    mine = api("GET", "/remixes", params={"mine": 1}).json()["remixes"]
    assert [r["title"] for r in mine].count(doc["title"]) == 1


@pytest.mark.parametrize(
    ("overrides", "code", "fragments"),
    [
        ({"tempo_ratio": 1.6}, "tempo_out_of_range", ["1.6", "maximum 1.25"]),
        ({"tempo_ratio": 0.5}, "tempo_out_of_range", ["0.5", "minimum 0.75"]),
        ({"key_shift": 5}, "key_shift_out_of_range", ["+5"]),
        ({"track_version": 99}, "track_version_mismatch", ["99"]),
        ({"stems": {"kazoo": {}}}, "unknown_stem", ["kazoo"]),
        ({"track_id": "no-such-track"}, "unknown_track", ["no-such-track"]),
    ],
)
def test_policy_violations_are_422_naming_the_value(as_user, track, overrides, code, fragments):
    resp = submit(as_user("fan"), remix_doc(track, **overrides), str(uuid.uuid4()))
    message = assert_error(resp, 422, code)
    for fragment in fragments:
        assert fragment in message


def test_a_remix_must_have_something_audible(as_user, track):
    doc = remix_doc(track, stems={s["id"]: {"mute": True} for s in track["stems"]})
    resp = submit(as_user("fan"), doc, str(uuid.uuid4()))
    assert_error(resp, 422, "nothing_audible")


def test_free_fans_cannot_submit(as_user, track):
    resp = submit(as_user("casual"), remix_doc(track), str(uuid.uuid4()))
    assert assert_error(resp, 403, "not_entitled") == UPGRADE


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"track_id": 5}',
        b'{"track_id": "x", "track_version": 1, "title": "t", "tempo_ratio": "fast"}',
        b'{"track_id": "x", "track_version": 1, "title": "t", "master_gain_db": 1e999}',
        b'{"track_id": "x", "track_version": 1, "title": "t", "surprise": true}',
    ],
)
def test_malformed_bodies_are_4xx_json_never_5xx(as_user, body):
    resp = as_user("fan")(
        "POST",
        "/remixes",
        data=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]["message"]


def test_unknown_remix_is_404(as_user):
    assert_error(as_user("fan")("GET", "/remixes/0123456789abcdef"), 404, "not_found")


# -- pipeline ------------------------------------------------------------------------------------


def test_a_remix_is_rendered_and_published(as_user, track, stem_bytes):
    fan = as_user("fan")
    resp = submit(fan, remix_doc(track, title="Published edit"), str(uuid.uuid4()))
    assert resp.status_code == 201, resp.text
    remix_id = resp.json()["id"]
    info = wait_for_status(fan, remix_id)
    assert info["status"] == "published", info
    assert info["creator"]
    mine = fan("GET", "/remixes", params={"mine": 1}).json()["remixes"]
    assert mine[0]["id"] == remix_id  # newest first

    audio = fan("GET", f"/remixes/{remix_id}/audio")
    assert audio.status_code == 200
    data, rate = sf.read(io.BytesIO(audio.content), dtype="float32", always_2d=True)
    track_frames = round(track["duration"] * rate)
    assert data.shape[1] == 2
    assert abs(data.shape[0] - track_frames) <= 1
    assert float(np.sqrt(np.mean(data**2))) > 1e-3

    head = fan("GET", f"/remixes/{remix_id}/audio", headers={"Range": "bytes=0-3"})
    assert head.status_code == 206 and head.content == b"fLaC"
    # Anyone may see a published remix; only entitled listeners may hear it.
    assert as_user("casual")("GET", f"/remixes/{remix_id}").status_code == 200
    assert_error(as_user("casual")("GET", f"/remixes/{remix_id}/audio"), 403, "not_entitled")
    assert as_user("artist")("GET", f"/remixes/{remix_id}/audio").status_code == 200
