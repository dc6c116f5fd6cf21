"""The anti-spam rules hold under concurrency (issue 9): a fan's thirty submissions at once
against a quota of twenty store exactly twenty, and near-identical remixes sent at the same
instant by different fans store exactly one. A platform of its own, so other tests' remixes
cannot collide with these."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.embedded import PlatformProcess, start_platform
from tests.platform_helpers import PASSWORD, create_user, doc_for, stem_ids
from tests.plugins.platform import login

QUOTA = 20


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory, demo_env) -> PlatformProcess:
    data_dir = tmp_path_factory.mktemp("atomic")
    proc = start_platform(data_dir, env=demo_env, extra_args=["--daily-quota", str(QUOTA)])
    yield proc
    proc.stop()


def submit(url: str, token: str, doc: dict) -> requests.Response:
    """As the studio submits: a 503 (a busy platform shedding load, as on a loaded machine) is
    sent again after its Retry-After with the same Idempotency-Key, so it is stored at most
    once; every other answer is final."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    for _ in range(60):
        resp = requests.post(f"{url}/v1/remixes", json=doc, headers=headers, timeout=120)
        if resp.status_code != 503:
            return resp
        time.sleep(float(resp.headers["Retry-After"]))
    return resp


def track_of(url: str, token: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    first = requests.get(f"{url}/v1/tracks", headers=headers, timeout=30).json()["tracks"][0]
    return requests.get(f"{url}/v1/tracks/{first['id']}", headers=headers, timeout=30).json()


def test_thirty_submissions_at_once_store_exactly_the_quota(own_platform):
    url = own_platform.url
    create_user(url, own_platform.data_dir, "burst-fan")
    token = login(url, "burst-fan", PASSWORD)["access_token"]
    track = track_of(url, token)
    first = stem_ids(track)[0]
    docs = [doc_for(track, stems={first: {"gain_db": -1.5 * (i + 2)}}) for i in range(30)]
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda d: submit(url, token, d), docs))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: QUOTA, 429: 30 - QUOTA}, statuses
    for r in answers:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "daily_quota_exceeded"
            assert int(r.headers["Retry-After"]) > 0


def test_near_identical_remixes_at_the_same_instant_store_one(own_platform):
    url = own_platform.url
    tokens = []
    for i in range(4):
        create_user(url, own_platform.data_dir, f"twin-fan-{i}")
        tokens.append(login(url, f"twin-fan-{i}", PASSWORD)["access_token"])
    track = track_of(url, tokens[0])
    ids = stem_ids(track)
    # Every level within 0.4 dB of the others: one remix, eight times, by four fans.
    docs = [doc_for(track, stems={ids[1]: {"gain_db": -7.0 - 0.05 * i}}) for i in range(8)]
    tokens = tokens * 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pair: submit(url, *pair), zip(tokens, docs, strict=True)))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: 7}, [r.text[:200] for r in answers]
    codes = {r.json()["error"]["code"] for r in answers if r.status_code == 409}
    assert codes <= {"near_duplicate_remix", "duplicate_remix"}
