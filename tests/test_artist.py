"""The artist side: policy editing, the review queue, reviews, the audit log, and isolation
between artists (`artist` owns the demo catalog, `artist2` owns `undertow`)."""

from __future__ import annotations

import pytest

from tests.platform_helpers import (
    Api,
    as_demo,
    assert_error,
    create_user,
    doc_for,
    stem_ids,
    wait_for_status,
)

MINE = "undertow"
THEIRS = "neon-harbor"


@pytest.fixture(scope="module")
def artist2(platform) -> Api:
    return as_demo(platform.url, "artist2")


@pytest.fixture(scope="module")
def artist(platform) -> Api:
    return as_demo(platform.url, "artist")


@pytest.fixture(scope="module")
def creator(platform) -> Api:
    return create_user(platform.url, platform.data_dir, "review-fan")


@pytest.fixture
def open_for_review(artist2):
    resp = artist2(
        "PUT", f"/tracks/{MINE}/policy", json={"opted_in": True, "requires_approval": True}
    )
    assert resp.status_code == 200, resp.text
    yield artist2("GET", f"/tracks/{MINE}").json()
    assert artist2("PUT", f"/tracks/{MINE}/policy", json={"opted_in": False}).status_code == 200


def test_owner_edits_the_policy_and_the_audit_log_records_it(artist2):
    before = artist2("GET", f"/tracks/{MINE}").json()["policy"]
    new = before | {"tempo_ratio_max": 1.1, "creator_share": 0.3}
    resp = artist2("PUT", f"/tracks/{MINE}/policy", json=new)
    assert resp.status_code == 200 and resp.json() == new
    assert artist2("GET", f"/tracks/{MINE}").json()["policy"] == new
    entry = artist2("GET", f"/tracks/{MINE}/audit").json()["entries"][0]
    assert entry["action"] == "policy_changed" and entry["actor"] == "artist2"
    assert entry["before"] == before and entry["after"] == new and entry["at"]
    assert artist2("PUT", f"/tracks/{MINE}/policy", json=before).status_code == 200


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ({"allowed_stems": ["kazoo"]}, "allowed_stems names stem 'kazoo'"),
        ({"solo_forbidden_stems": ["kazoo"]}, "solo_forbidden_stems names stem 'kazoo'"),
        ({"allowed_stems": []}, "allowed_stems is empty"),
        ({"tempo_ratio_min": 1.2, "tempo_ratio_max": 1.1}, "tempo_ratio_min 1.2 is above"),
        ({"creator_share": 0.9}, "'creator_share'"),
        ({"surprise": 1}, "'surprise' is not a known field"),
    ],
)
def test_invalid_policies_are_422_naming_the_field(artist2, policy, fragment):
    resp = artist2("PUT", f"/tracks/{MINE}/policy", json=policy)
    assert resp.status_code == 422, resp.text
    assert fragment in resp.json()["error"]["message"]


def test_artists_cannot_touch_each_others_tracks(artist, artist2, open_for_review):
    # Open track of another artist: visible, but policy, queue and audit are refused with 403.
    for api, track in ((artist, MINE), (artist2, THEIRS)):
        message = assert_error(
            api("PUT", f"/tracks/{track}/policy", json={"opted_in": False}), 403, "not_track_artist"
        )
        assert message.startswith("Only the artist of ")
        assert_error(api("GET", f"/tracks/{track}/remixes"), 403, "not_track_artist")
        assert_error(api("GET", f"/tracks/{track}/audit"), 403, "not_track_artist")
    assert artist("GET", f"/tracks/{THEIRS}").json()["policy"]["opted_in"] is True


def test_a_closed_track_of_another_artist_looks_unknown(artist, artist2):
    assert artist2("GET", f"/tracks/{MINE}").json()["opted_in"] is False
    assert_error(artist("PUT", f"/tracks/{MINE}/policy", json={}), 404, "not_found")
    assert_error(artist("GET", f"/tracks/{MINE}/remixes"), 404, "not_found")
    assert_error(artist("GET", f"/tracks/{MINE}/audit"), 404, "not_found")


def test_fans_cannot_edit_policies(platform, creator):
    assert_error(creator("PUT", f"/tracks/{THEIRS}/policy", json={}), 403, "not_track_artist")


def test_review_queue_approve_and_reject(platform, artist, artist2, creator, open_for_review):
    track = open_for_review
    ids = stem_ids(track)
    first = creator.submit(doc_for(track, title="For approval"))
    second = creator.submit(doc_for(track, stems={ids[1]: {"mute": True}}, title="For refusal"))
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    first_id, second_id = first.json()["id"], second.json()["id"]
    assert wait_for_status(creator, first_id)["status"] == "pending_approval"
    assert wait_for_status(creator, second_id)["status"] == "pending_approval"

    queue = artist2("GET", f"/tracks/{MINE}/remixes", params={"status": "pending_approval"})
    assert {r["id"] for r in queue.json()["remixes"]} >= {first_id, second_id}
    # Unpublished: another artist (or any fan) cannot see or review it.
    assert_error(
        artist("POST", f"/remixes/{first_id}/review", json={"decision": "approve"}),
        404,
        "not_found",
    )
    assert_error(as_demo(platform.url, "fan")("GET", f"/remixes/{first_id}"), 404, "not_found")
    # The creator cannot approve their own remix either.
    assert_error(
        creator("POST", f"/remixes/{first_id}/review", json={"decision": "approve"}),
        403,
        "not_track_artist",
    )

    approved = artist2("POST", f"/remixes/{first_id}/review", json={"decision": "approve"})
    assert approved.status_code == 200 and approved.json()["status"] == "published"
    assert creator("GET", f"/remixes/{first_id}").json()["status"] == "published"
    again = artist2(
        "POST", f"/remixes/{first_id}/review", json={"decision": "reject", "reason": "x"}
    )
    assert "not pending approval" in assert_error(again, 409, "not_pending_approval")
    # Published now: the other artist sees it, and still may not review it.
    assert_error(
        artist("POST", f"/remixes/{first_id}/review", json={"decision": "reject", "reason": "no"}),
        403,
        "not_track_artist",
    )

    no_reason = artist2("POST", f"/remixes/{second_id}/review", json={"decision": "reject"})
    assert "Say why" in assert_error(no_reason, 422, "reason_required")
    refused = artist2(
        "POST",
        f"/remixes/{second_id}/review",
        json={"decision": "reject", "reason": "The bass is the hook; keep it in."},
    )
    assert refused.status_code == 200
    assert refused.json()["status"] == "rejected"
    assert refused.json()["reason"] == (
        "The artist did not approve this remix: The bass is the hook; keep it in."
    )
    bad = artist2("POST", f"/remixes/{second_id}/review", json={"decision": "maybe"})
    assert bad.status_code == 422

    log = artist2("GET", f"/tracks/{MINE}/audit").json()["entries"]
    reviews = {e["remix_id"]: e for e in log if e["action"].startswith("remix_")}
    assert reviews[first_id]["action"] == "remix_approved"
    assert reviews[first_id]["before"] == {"status": "pending_approval"}
    assert reviews[first_id]["after"] == {"status": "published"}
    assert reviews[second_id]["action"] == "remix_rejected"
    assert reviews[second_id]["reason"] == "The bass is the hook; keep it in."
    assert all(e["actor"] == "artist2" for e in log)
