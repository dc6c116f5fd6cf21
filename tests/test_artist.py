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
    unique_mix,
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
        ({"allowed_stems": []}, "(allowed_stems is empty)"),
        (
            {"tempo_ratio_min": 1.2, "tempo_ratio_max": 1.1},
            "the slowest tempo (×1.2) is faster than the fastest tempo (×1.1)",
        ),
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
    first = creator.submit(doc_for(track, stems=unique_mix(track), title="For approval"))
    second = creator.submit(doc_for(track, stems=unique_mix(track, mute=True), title="For refusal"))
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


@pytest.fixture
def open_at_once(artist2):
    """`undertow` open to remixes, published without approval."""
    resp = artist2(
        "PUT", f"/tracks/{MINE}/policy", json={"opted_in": True, "requires_approval": False}
    )
    assert resp.status_code == 200, resp.text
    yield artist2("GET", f"/tracks/{MINE}").json()
    assert artist2("PUT", f"/tracks/{MINE}/policy", json={"opted_in": False}).status_code == 200


def test_takedown_by_the_artist_with_a_reason_the_fan_sees(
    platform, artist, artist2, creator, open_at_once
):
    track = open_at_once
    ids = stem_ids(track)
    doc = doc_for(track, stems={ids[3]: {"gain_db": -13.6}}, title="To take down")
    submitted = creator.submit(doc)
    assert submitted.status_code == 201, submitted.text
    remix_id = submitted.json()["id"]
    assert wait_for_status(creator, remix_id)["status"] == "published"
    listener = as_demo(platform.url, "fan")  # another superfan: hears published remixes
    assert listener("GET", f"/remixes/{remix_id}/audio").status_code == 200

    # Only the track's artist: the creator, a fan and another artist are refused.
    reason = {"reason": "It uses the vocal stem I only cleared for the original release."}
    for api in (creator, listener, artist):
        message = assert_error(
            api("POST", f"/remixes/{remix_id}/takedown", json=reason), 403, "not_track_artist"
        )
        assert message == "Only the artist of 'Undertow' can take down its remixes."
    assert_error(artist2("POST", "/remixes/no-such-remix/takedown", json=reason), 404, "not_found")
    # A reason is required, and blank is no reason.
    for body in ({"reason": ""}, {"reason": "   \n"}):
        message = assert_error(
            artist2("POST", f"/remixes/{remix_id}/takedown", json=body), 422, "reason_required"
        )
        assert message.startswith("Say why you are taking this remix down")
    missing = artist2("POST", f"/remixes/{remix_id}/takedown", json={})
    assert "'reason' is required" in assert_error(missing, 422, "invalid_request")
    assert creator("GET", f"/remixes/{remix_id}").json()["status"] == "published"

    taken = artist2("POST", f"/remixes/{remix_id}/takedown", json=reason)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "taken_down"
    expected = (
        "The artist took this remix down: It uses the vocal stem I only cleared for the "
        "original release."
    )
    assert taken.json()["reason"] == expected
    again = artist2("POST", f"/remixes/{remix_id}/takedown", json=reason)
    assert "is taken down, not published" in assert_error(again, 409, "not_published")

    # The creator sees the status and the reason, on the remix and in their list.
    mine = creator("GET", f"/remixes/{remix_id}").json()
    assert (mine["status"], mine["reason"]) == ("taken_down", expected)
    listed = {r["id"]: r for r in creator("GET", "/remixes", params={"mine": 1}).json()["remixes"]}
    assert listed[remix_id]["status"] == "taken_down" and listed[remix_id]["reason"] == expected

    # The audio: refused to the creator (who is told why) and gone for everyone else; only the
    # artist still hears it.
    gone = assert_error(creator("GET", f"/remixes/{remix_id}/audio"), 410, "taken_down")
    assert gone.startswith("The artist of 'Undertow' took this remix down")
    assert_error(listener("GET", f"/remixes/{remix_id}/audio"), 404, "not_found")
    assert_error(listener("GET", f"/remixes/{remix_id}"), 404, "not_found")
    assert_error(artist("GET", f"/remixes/{remix_id}/audio"), 404, "not_found")
    owner_copy = artist2("GET", f"/remixes/{remix_id}/audio")
    assert owner_copy.status_code == 200 and owner_copy.content[:4] == b"fLaC"

    entry = next(
        e
        for e in artist2("GET", f"/tracks/{MINE}/audit").json()["entries"]
        if e["remix_id"] == remix_id
    )
    assert entry["action"] == "remix_taken_down" and entry["actor"] == "artist2"
    assert entry["before"] == {"status": "published"}
    assert entry["after"] == {"status": "taken_down"}
    assert entry["reason"] == reason["reason"]


def test_the_artists_tracks_count_remixes_waiting_for_review(
    platform, artist2, creator, open_for_review
):
    def waiting() -> int:
        tracks = artist2("GET", "/me/tracks").json()["tracks"]
        assert [t["id"] for t in tracks] == [MINE]  # their own track only, open or not
        return tracks[0]["awaiting_review"]

    def pending_in_queue() -> int:
        queue = artist2("GET", f"/tracks/{MINE}/remixes", params={"status": "pending_approval"})
        return len(queue.json()["remixes"])

    before = waiting()
    assert before == pending_in_queue()
    track = open_for_review
    ids = stem_ids(track)
    new = []
    for gain in (-12.5, -3.5):
        resp = creator.submit(
            doc_for(track, stems={ids[4]: {"mute": True}, ids[3]: {"gain_db": gain}})
        )
        assert resp.status_code == 201, resp.text
        new.append(resp.json()["id"])
    for remix_id in new:
        assert wait_for_status(creator, remix_id)["status"] == "pending_approval"
    assert waiting() == before + 2 == pending_in_queue()
    decided = artist2("POST", f"/remixes/{new[0]}/review", json={"decision": "approve"})
    assert decided.status_code == 200
    assert waiting() == before + 1
    # Nothing left waiting for the tests after this one (they count the queue too).
    refused = {"decision": "reject", "reason": "Counted, not kept."}
    assert artist2("POST", f"/remixes/{new[1]}/review", json=refused).status_code == 200
    assert waiting() == before
    # Accounts without tracks get an empty list; the catalog's other tracks are not "theirs".
    assert as_demo(platform.url, "fan")("GET", "/me/tracks").json() == {"tracks": []}
    assert creator("GET", "/me/tracks").json() == {"tracks": []}
    assert_error(Api(platform.url)("GET", "/me/tracks"), 401, "invalid_token")
