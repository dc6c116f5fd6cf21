"""Anti-spam: the daily quota, exact duplicates and near duplicates; each refusal says why.

A platform of its own, with a daily quota of 3, so the shared one keeps its default quota.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.embedded import start_platform
from tests.platform_helpers import Api, as_demo, assert_error, create_user, doc_for, stem_ids


@pytest.fixture(scope="module")
def spam_platform(tmp_path_factory, demo_env):
    proc = start_platform(
        tmp_path_factory.mktemp("antispam"), env=demo_env, extra_args=["--daily-quota", "3"]
    )
    try:
        yield proc
    finally:
        proc.kill()  # a throwaway: no need to wait for renders still running


@pytest.fixture(scope="module")
def track(spam_platform) -> dict:
    fan = as_demo(spam_platform.url, "fan")
    return fan("GET", "/tracks/neon-harbor").json()


@pytest.fixture(scope="module")
def users(spam_platform) -> dict[str, Api]:
    """Fresh accounts (fresh quotas), created concurrently: the CLI takes ~2 s to start."""
    names = ["quota", "dup", "copycat", "near"]
    with ThreadPoolExecutor(len(names)) as pool:
        apis = pool.map(
            lambda n: create_user(spam_platform.url, spam_platform.data_dir, f"{n}-spam"), names
        )
        return dict(zip(names, apis, strict=True))


def test_daily_quota_says_when_it_resets(users, track):
    user = users["quota"]
    ids = stem_ids(track)
    keys = []
    for i in range(3):
        keys.append(uuid.uuid4().hex)
        resp = user.submit(doc_for(track, stems={ids[i]: {"mute": True}}), keys[-1])
        assert resp.status_code == 201, resp.text
    over = user.submit(doc_for(track, stems={ids[3]: {"mute": True}}))
    message = assert_error(over, 429, "daily_quota_exceeded")
    assert re.fullmatch(
        r"You have submitted 3 remixes today, the daily limit of 3\. You can submit again after "
        r"\d{4}-\d\d-\d\d 00:00 UTC \(in \d+ h \d+ min\)\.",
        message,
    ), message
    assert 0 < int(over.headers["Retry-After"]) <= 24 * 3600
    # A retry of an accepted submission is not a new one: it still gets its answer.
    again = user.submit(doc_for(track, stems={ids[0]: {"mute": True}}), keys[0])
    assert again.status_code == 200


def test_exact_duplicates_are_refused_whatever_the_title(users, track):
    user = users["dup"]
    ids = stem_ids(track)
    doc = doc_for(track, stems={ids[1]: {"gain_db": -7.0}}, title="Original")
    first = user.submit(doc)
    assert first.status_code == 201, first.text
    # Same recipe: new title and description, defaults spelled out, keys in another order.
    spelled = {s: {"gain_db": 0.0, "mute": False} for s in ids} | {ids[1]: {"gain_db": -7.0}}
    copy = dict(reversed(list(doc.items()))) | {
        "title": "Totally new",
        "description": "Nothing like it",
        "stems": spelled,
        "tempo_ratio": 1.0,
    }
    message = assert_error(user.submit(copy), 409, "duplicate_remix")
    assert message == (
        f"This recipe is identical to your remix 'Original' ({first.json()['id']}). Change the "
        "mix (titles and descriptions do not count) before submitting it as a new remix."
    )
    # Someone else copying it is refused too, without revealing the unpublished original.
    other = users["copycat"]
    message = assert_error(other.submit(copy), 409, "duplicate_remix")
    assert message.startswith("This recipe is identical to a remix another creator submitted")


def test_near_duplicates_are_refused_naming_the_remix(users, track):
    user = users["near"]
    ids = stem_ids(track)
    first = user.submit(doc_for(track, stems={ids[2]: {"gain_db": -9.0}}, title="Keys down"))
    assert first.status_code == 201, first.text
    # Within 1 dB on every stem, once aligned to the loudest (a uniform offset is inaudible).
    close = {s: {"gain_db": -2.0, "pan": 0.3} for s in ids} | {ids[2]: {"gain_db": -10.5}}
    message = assert_error(user.submit(doc_for(track, stems=close)), 409, "near_duplicate_remix")
    assert message == (
        f"This remix sounds almost the same as your remix 'Keys down' ({first.json()['id']}): "
        "the same stems, mutes, tempo and key, and every stem's level within 1 dB (the largest "
        "difference is 0.50 dB). Make a clearer change before submitting it as a new remix."
    )
    # A clear difference is a new remix.
    apart = user.submit(doc_for(track, stems={ids[2]: {"gain_db": -12.0}}))
    assert apart.status_code == 201, apart.text
