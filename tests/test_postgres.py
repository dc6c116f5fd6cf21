"""The same platform code on SQLite and on a real PostgreSQL (tests/plugins/postgres.py).

A representative subset of the API tests, each run against a platform process on either
database: sign-in, the catalog, entitlement, idempotent submission (with the same-key and the
different-key races), a policy violation, and the artist's review. Plus: the migrations build
exactly the models' schema on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from app.embedded import PlatformProcess, start_platform
from core.sealed import open_sealed
from server.db import make_engine
from server.migrate import schema_differences, upgrade_to_head
from tests.platform_helpers import Api, as_demo, assert_error, doc_for, stem_ids, wait_for_status
from tests.plugins.postgres import create_database

TRACK = "neon-harbor"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_platform(request, tmp_path_factory, demo_env) -> Iterator[PlatformProcess]:
    extra: list[str] = []
    if request.param == "postgresql":
        extra = ["--database-url", create_database(request.getfixturevalue("postgres_url"))]
    proc = start_platform(tmp_path_factory.mktemp(request.param), env=demo_env, extra_args=extra)
    try:
        yield proc
    finally:
        proc.kill()  # throwaway: no need to wait for renders


@pytest.fixture(scope="module")
def fan(db_platform) -> Api:
    return as_demo(db_platform.url, "fan")


@pytest.fixture(scope="module")
def track(fan) -> dict:
    return fan("GET", f"/tracks/{TRACK}").json()


def test_migrations_build_the_models_schema_on_postgresql(postgres_url):
    engine = make_engine(create_database(postgres_url))
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_sign_in_and_account(db_platform, fan):
    assert fan("GET", "/me").json()["tier"] == "superfan"
    resp = requests.post(
        f"{db_platform.url}/v1/auth/token",
        data={"username": "fan", "password": "wrong"},
        timeout=10,
    )
    assert_error(resp, 401, "invalid_credentials")


def test_catalog_search_and_detail(fan, track):
    found = fan("GET", "/tracks", params={"q": track["title"][1:5].upper()}).json()["tracks"]
    assert TRACK in [t["id"] for t in found]
    assert fan("GET", "/tracks", params={"q": "%"}).json()["tracks"] == []
    assert track["stems"] and track["policy"]["opted_in"] is True


def test_entitlement(db_platform, fan, track):
    stem = track["stems"][0]
    resp = fan("GET", f"/tracks/{TRACK}/stems/{stem['id']}/audio")
    key = base64.b64decode(fan("GET", "/me/device-key").json()["key"])  # stems travel sealed
    assert hashlib.sha256(open_sealed(key, resp.content)).hexdigest() == stem["sha256"]
    casual = as_demo(db_platform.url, "casual")
    assert_error(casual("GET", f"/tracks/{TRACK}/stems/{stem['id']}/audio"), 403, "not_entitled")


def test_submission_is_idempotent(fan, track):
    key = uuid.uuid4().hex
    doc = doc_for(track, stems={stem_ids(track)[0]: {"gain_db": -5.0}})
    first = fan.submit(doc, key)
    assert first.status_code == 201, first.text
    again = fan.submit(doc, key)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert_error(fan.submit(doc | {"title": "Changed"}, key), 409, "idempotency_key_reused")


def _race(api: Api, docs_and_keys: list[tuple[dict, str]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(docs_and_keys))
    results: list[requests.Response] = []
    lock = threading.Lock()

    def post(doc: dict, key: str) -> None:
        barrier.wait()
        resp = api.submit(doc, key)
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=post, args=dk) for dk in docs_and_keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_submissions_with_one_key_make_one_remix(db_platform, track):
    qa = as_demo(db_platform.url, "qa")
    key = uuid.uuid4().hex
    doc = doc_for(track, stems={stem_ids(track)[1]: {"gain_db": -8.0}}, title=f"Race {key[:6]}")
    results = _race(qa, [(doc, key)] * 3)
    assert sorted(r.status_code for r in results) == [200, 200, 201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1


def test_one_document_with_different_keys_at_once_is_accepted_once(db_platform, track):
    qa = as_demo(db_platform.url, "qa")
    doc = doc_for(track, stems={stem_ids(track)[2]: {"mute": True}})
    results = _race(qa, [(doc, uuid.uuid4().hex) for _ in range(3)])
    assert sorted(r.status_code for r in results) == [201, 409, 409], [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "duplicate_remix")


def test_policy_violation_is_422_naming_the_value(fan, track):
    resp = fan.submit(doc_for(track, tempo_ratio=1.6))
    message = assert_error(resp, 422, "tempo_out_of_range")
    assert message == "Tempo ratio 1.6 is above this track's maximum 1.25."


def test_artist_review(db_platform, fan, track):
    artist = as_demo(db_platform.url, "artist")
    policy = track["policy"] | {"requires_approval": True}
    assert artist("PUT", f"/tracks/{TRACK}/policy", json=policy).status_code == 200
    resp = fan.submit(doc_for(track, stems={stem_ids(track)[3]: {"gain_db": -9.0}}))
    assert resp.status_code == 201, resp.text
    remix_id = resp.json()["id"]
    assert wait_for_status(fan, remix_id)["status"] == "pending_approval"
    queue = artist("GET", f"/tracks/{TRACK}/remixes", params={"status": "pending_approval"})
    assert remix_id in [r["id"] for r in queue.json()["remixes"]]
    approved = artist("POST", f"/remixes/{remix_id}/review", json={"decision": "approve"})
    assert approved.json()["status"] == "published"
    entries = artist("GET", f"/tracks/{TRACK}/audit").json()["entries"]
    assert [e["action"] for e in entries[:2]] == ["remix_approved", "policy_changed"]
    assert fan("GET", f"/remixes/{remix_id}/audio").status_code == 200
