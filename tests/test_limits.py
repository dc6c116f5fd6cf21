"""Limits and bad input: huge bodies, path tricks, unknown ids, odd tokens — always a 4xx in the
platform's JSON error shape, never a 5xx — and the different-keys same-document race."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.platform_helpers import Api, as_demo, assert_error, create_user, doc_for, stem_ids

MIB = 1024 * 1024
TOO_LARGE = (
    "The request body {got}; the platform accepts at most 1 MiB. A remix document is a recipe, "
    "not audio: remove anything else from the body and resend."
)


@pytest.fixture(scope="module")
def fan(platform) -> Api:
    return as_demo(platform.url, "fan")


@pytest.fixture(scope="module")
def track(fan) -> dict:
    return fan("GET", "/tracks/neon-harbor").json()


def _big_doc(track: dict, size: int) -> bytes:
    doc = doc_for(track, description="x" * size)
    return json.dumps(doc).encode()


def test_a_declared_huge_body_is_413_before_it_is_read(fan, track):
    body = _big_doc(track, 2 * MIB)
    resp = fan(
        "POST",
        "/remixes",
        data=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    message = assert_error(resp, 413, "too_large")
    assert message == TOO_LARGE.format(got=f"is {len(body) / MIB:g} MiB")


def test_a_chunked_huge_body_is_413_once_it_crosses_the_limit(fan, track):
    body = _big_doc(track, 3 * MIB)

    def chunks() -> Iterator[bytes]:  # a generator: requests sends it chunked, with no length
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    resp = fan(
        "POST",
        "/remixes",
        data=chunks(),
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert "content-length" not in resp.request.headers
    assert assert_error(resp, 413, "too_large") == TOO_LARGE.format(got="is larger than that")


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/auth/token", "form"),
        ("POST", "/auth/refresh", "json"),
        ("PUT", "/tracks/neon-harbor/policy", "json"),
        ("POST", "/remixes/0123/review", "json"),
    ],
)
def test_every_body_endpoint_has_the_limit(platform, fan, method, path, kind):
    if kind == "form":
        resp = requests.post(
            f"{platform.url}/v1{path}",
            data={"username": "fan", "password": "p" * (2 * MIB)},
            timeout=30,
        )
    else:
        resp = fan(method, path, data=b'{"x": "' + b"y" * (2 * MIB) + b'"}')
    assert_error(resp, 413, "too_large")
    spec = requests.get(f"{platform.url}/openapi.json", timeout=10).json()
    route = path.replace("neon-harbor", "{track_id}").replace("0123", "{remix_id}")
    assert "413" in spec["paths"][f"/v1{route}"][method.lower()]["responses"]


def test_a_body_just_under_the_limit_is_judged_on_its_content(fan, track):
    body = _big_doc(track, MIB - 4096)
    assert len(body) < MIB
    resp = fan(
        "POST",
        "/remixes",
        data=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    message = assert_error(resp, 422, "invalid_request")
    assert message.startswith("'description': string should have at most 2000 characters")


@pytest.mark.parametrize(
    "path",
    [
        "/tracks/..%2F..%2Fplatform.sqlite3",
        "/tracks/%2e%2e/stems/x/audio",
        "/tracks/neon-harbor/stems/..%2F..%2Fsecret/audio",
        "/tracks/neon-harbor/stems/%00/audio",
        "/tracks/" + "a" * 5000,
        "/tracks/%C3%A9%F0%9F%8E%B5",
        "/tracks/%FF%FE",
        "/remixes/..%2F..%2Fplatform.sqlite3",
        "/remixes/%00",
        "/remixes/" + "0" * 5000 + "/audio",
        "/tracks/neon-harbor/remixes/../../me",
        "/tracks/no-such-track/policy",
        "/tracks/no-such-track/audit",
        "/tracks/no-such-track/remixes",
    ],
)
def test_path_tricks_and_unknown_ids_are_404_json(fan, path):
    resp = fan("GET", path)
    assert 400 <= resp.status_code < 500, resp.text[:300]
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/remixes/no-such-remix/review", {"decision": "approve"}),
        ("PUT", "/tracks/no-such-track/policy", {"opted_in": True}),
        ("GET", "/remixes/no-such-remix/audio", None),
        ("GET", "/tracks/no-such-track/stems/drums/audio", None),
    ],
)
def test_unknown_ids_are_404_naming_them(platform, method, path, body):
    api = as_demo(platform.url, "artist")
    resp = api(method, path, json=body)
    message = assert_error(resp, 404, "not_found")
    assert ("no-such-remix" in message) or ("no-such-track" in message)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "x" * 10000,
        "Bearer ea_\u00e9t\u00e9".encode().decode("latin-1"),
        "bearer ea_lowercase-scheme",
        "Bearer a b c",
        "Token abc",
    ],
)
def test_odd_tokens_are_401_json(platform, header):
    resp = requests.get(
        f"{platform.url}/v1/me", headers={"Authorization": header.encode("latin-1")}, timeout=10
    )
    assert_error(resp, 401, "invalid_token")


def test_wrong_content_type_is_422_json(fan, track):
    resp = fan(
        "POST",
        "/remixes",
        data=json.dumps(doc_for(track)),
        headers={"Content-Type": "text/plain", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert 400 <= resp.status_code < 500
    assert resp.json()["error"]["message"]


def test_same_document_with_different_keys_at_once_is_accepted_once(platform, track):
    """Four submissions of one recipe race, each with its own key (from two creators): the
    database's unique index on live recipes lets exactly one through; the rest are duplicates."""
    apis = [
        create_user(platform.url, platform.data_dir, f"racer-{uuid.uuid4().hex[:8]}")
        for _ in range(2)
    ]
    ids = stem_ids(track)
    doc = doc_for(track, stems={ids[0]: {"gain_db": -4.25}, ids[2]: {"mute": True}})
    barrier = threading.Barrier(4)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def post(api: Api) -> None:
        barrier.wait()
        resp = api.submit(doc, uuid.uuid4().hex)
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=post, args=(apis[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409], [r.text for r in results]
    winner = next(r.json() for r in results if r.status_code == 201)
    for r in results:
        if r.status_code == 409:
            message = assert_error(r, 409, "duplicate_remix")
            assert winner["id"] in message or "another creator" in message, message
    theirs = [a("GET", "/remixes", params={"mine": 1}).json()["remixes"] for a in apis]
    assert sum(len(r) for r in theirs) == 1
