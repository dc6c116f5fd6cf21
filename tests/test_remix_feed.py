"""Remixes of a track (issue 11 item 6), on a real platform over loopback: the published feed
(newest, most played, pages), play events counted once per listener per remix per UTC day,
forking ("Remix this remix") and the lineage check, and the credit in the split and the
disclosure.

One platform for the module (its own, so the feed holds only what these tests publish):
`fan` and `qa` (Superfans) publish on neon-harbor, `casual` is on the free tier, `artist` owns
the demo tracks. Renders are few (five), and every test reads them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.embedded import start_platform
from core.contract import RemixDocument
from server.db import Remix, RemixPlay, Track, User, init_db, make_engine, make_sessionmaker
from server.plays import record_play
from server.splits import split_statement
from tests.platform_helpers import Api, as_demo, assert_error, doc_for, stem_ids, wait_for_status

TRACK, OTHER = "neon-harbor", "paper-lanterns"


@pytest.fixture(scope="module")
def feed_platform(tmp_path_factory, demo_env):
    proc = start_platform(tmp_path_factory.mktemp("feed-platform"), env=demo_env)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def users(feed_platform) -> dict[str, Api]:
    return {name: as_demo(feed_platform.url, name) for name in ("fan", "qa", "casual", "artist")}


def publish(api: Api, doc: dict) -> dict:
    resp = api.submit(doc)
    assert resp.status_code == 201, resp.text
    info = wait_for_status(api, resp.json()["id"])
    assert info["status"] == "published", info
    return info


@pytest.fixture(scope="module")
def published(users) -> dict[str, dict]:
    """first (fan), second (qa) on neon-harbor; elsewhere (fan) on paper-lanterns; withdrawn
    (qa, then taken down by the artist)."""
    fan, qa, artist = users["fan"], users["qa"], users["artist"]
    track = fan("GET", f"/tracks/{TRACK}").json()
    other = fan("GET", f"/tracks/{OTHER}").json()
    ids = stem_ids(track)
    remixes = {
        "first": publish(fan, doc_for(track, {ids[0]: {"gain_db": -9.0}}, title="First flip")),
        "second": publish(qa, doc_for(track, {ids[1]: {"mute": True}}, title="Second flip")),
        "elsewhere": publish(fan, doc_for(other, title="Lantern flip")),
        "withdrawn": publish(qa, doc_for(track, {ids[2]: {"gain_db": -12.0}}, title="Gone")),
    }
    resp = artist(
        "POST", f"/remixes/{remixes['withdrawn']['id']}/takedown", json={"reason": "Test"}
    )
    assert resp.status_code == 200, resp.text
    return remixes


def feed(api: Api, track: str = TRACK, **params) -> dict:
    resp = api("GET", f"/tracks/{track}/remixes/published", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def titles(page: dict) -> list[str]:
    return [r["title"] for r in page["remixes"]]


def test_the_feed_lists_published_remixes_newest_or_most_played_a_page_at_a_time(users, published):
    qa = users["qa"]
    newest = feed(qa)
    assert titles(newest) == ["Second flip", "First flip"]  # taken down: gone from the feed
    assert newest["next_cursor"] is None
    assert all(r["status"] == "published" and r["plays"] == 0 for r in newest["remixes"])
    assert titles(feed(qa, track=OTHER)) == ["Lantern flip"]

    # qa plays the older one: it leads "most played", newest still leads "newest".
    assert qa("POST", f"/remixes/{published['first']['id']}/plays").json()["plays"] == 1
    most = feed(qa, sort="most_played")
    assert titles(most) == ["First flip", "Second flip"]
    assert [r["plays"] for r in most["remixes"]] == [1, 0]
    assert titles(feed(qa, sort="newest")) == ["Second flip", "First flip"]

    # One a page: the cursor walks the whole feed, in order, once.
    for sort, expected in (("newest", ["Second flip", "First flip"]), ("most_played", None)):
        seen, cursor = [], None
        while True:
            page = feed(qa, sort=sort, limit=1, **({"cursor": cursor} if cursor else {}))
            seen += titles(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == (expected or titles(most))

    # A cursor of another order, or a made-up one, says to start again.
    cursor = feed(qa, sort="newest", limit=1)["next_cursor"]
    for bad in (cursor, "not-a-cursor", "e30"):
        resp = qa(
            "GET",
            f"/tracks/{TRACK}/remixes/published",
            params={"sort": "most_played", "cursor": bad},
        )
        assert "first page again" in assert_error(resp, 422, "invalid_cursor")


def test_the_feed_is_for_listeners_entitled_to_the_track(users, published):
    casual, fan = users["casual"], users["fan"]
    message = assert_error(casual("GET", f"/tracks/{TRACK}/remixes/published"), 403, "not_entitled")
    assert "Superfan" in message
    assert_error(casual("POST", f"/remixes/{published['first']['id']}/plays"), 403, "not_entitled")
    assert_error(fan("GET", "/tracks/undertow/remixes/published"), 404, "not_found")  # closed
    assert_error(fan("GET", "/tracks/no-such-track/remixes/published"), 404, "not_found")
    assert_error(Api(fan.url)("GET", f"/tracks/{TRACK}/remixes/published"), 401, "invalid_token")
    assert_error(
        fan("GET", f"/tracks/{TRACK}/remixes/published", params={"sort": "loudest"}),
        422,
        "invalid_request",
    )
    # The placeholder form points at the feed.
    message = assert_error(fan("GET", "/remixes", params={"mine": 0}), 422, "use_track_feed")
    assert "/remixes/published" in message
    # The artist sees their track's feed (they own it), and the plays in their review list.
    artist = users["artist"]
    assert "First flip" in titles(feed(artist))
    queue = artist("GET", f"/tracks/{TRACK}/remixes").json()["remixes"]
    assert {r["title"]: r["plays"] for r in queue}["First flip"] >= 1


def test_a_listener_counts_once_per_remix_per_day(users, published):
    fan, qa, artist = users["fan"], users["qa"], users["artist"]
    second = published["second"]["id"]  # qa's remix
    before = fan("GET", f"/remixes/{second}").json()["plays"]
    first = fan("POST", f"/remixes/{second}/plays")
    assert first.status_code == 200, first.text
    assert first.json() == {"remix_id": second, "plays": before + 1, "counted": True}
    again = fan("POST", f"/remixes/{second}/plays").json()
    assert again == {"remix_id": second, "plays": before + 1, "counted": False}

    # Eight at once from another listener (a double click, retries, two devices): one play.
    answers: list[dict] = []

    def play() -> None:
        answers.append(artist("POST", f"/remixes/{second}/plays").json())

    threads = [threading.Thread(target=play) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a["counted"] for a in answers) == [False] * 7 + [True]
    # The creator playing their own remix is not counted.
    assert qa("POST", f"/remixes/{second}/plays").json()["counted"] is False
    assert qa("GET", f"/remixes/{second}").json()["plays"] == before + 2  # the remix's status
    assert {r["id"]: r["plays"] for r in feed(qa)["remixes"]}[second] == before + 2
    # Plays are for published remixes only.
    withdrawn = published["withdrawn"]["id"]
    assert_error(artist("POST", f"/remixes/{withdrawn}/plays"), 409, "not_published")
    assert_error(fan("POST", "/remixes/nope/plays"), 404, "not_found")


def test_a_day_later_the_same_listener_counts_again(tmp_path: Path):
    """The UTC-day rule itself, on a real SQLite file with the platform's schema (the clock is
    passed in: a test cannot wait for midnight)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plays.sqlite3'}")
    init_db(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        maker, listener = (
            User(username=n, display_name=n, password_hash="x", tier="superfan")
            for n in ("maker", "listener")
        )
        db.add_all([maker, listener])
        db.flush()
        db.add(Track(id="t", title="T", artist_user_id=maker.id, bpm=120.0, key="C major"))
        db.add(
            Remix(
                id="r",
                user_id=maker.id,
                track_id="t",
                idempotency_key="k",
                title="R",
                document={},
                document_hash="h",
                status="published",
            )
        )
        db.commit()
        remix = db.get(Remix, "r")
        late = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
        assert record_play(db, remix, listener, late)
        assert not record_play(db, remix, listener, late - timedelta(hours=23))  # same UTC day
        assert record_play(db, remix, listener, late + timedelta(seconds=1))  # next UTC day
        # A time in another zone counts on its UTC day: 00:30 on 3 March in Paris is still
        # 2 March in UTC, already counted.
        paris = datetime(2026, 3, 3, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
        assert not record_play(db, remix, listener, paris)
        assert record_play(db, remix, listener, paris + timedelta(hours=1))
        assert not record_play(db, remix, maker, late)  # the creator's own play
        plays = db.scalar(select(func.count()).select_from(RemixPlay))
        assert plays == 3 and db.get(Remix, "r").play_count == 3
    engine.dispose()


def test_remix_this_remix_credits_the_original_remixer(users, published):
    fan, qa = users["fan"], users["qa"]
    original = published["first"]  # fan's
    resp = qa("POST", f"/remixes/{original['id']}/fork")
    assert resp.status_code == 200, resp.text
    fork = resp.json()
    assert fork["inspired_by"] == original["id"]
    assert fork["title"] == "First flip (flip)" and fork["description"] == ""
    assert (
        RemixDocument.model_validate(fork).recipe().stems
        == RemixDocument.model_validate(
            doc_for(
                qa("GET", f"/tracks/{TRACK}").json(),
                {stem_ids(qa("GET", f"/tracks/{TRACK}").json())[0]: {"gain_db": -9.0}},
            )
        ).stems
    )

    # Unchanged, it is the original again: a duplicate, lineage or not; the check says so
    # before the fan submits (the Submit dialog asks it as it opens).
    [problem] = qa("POST", "/remixes/check", json=fork).json()["problems"]
    assert problem["code"] == "duplicate_remix" and "Change the mix" in problem["message"]
    assert_error(qa.submit(fork), 409, "duplicate_remix")

    changed = fork | {"key_shift": 2, "title": "Higher flip"}
    check = qa("POST", "/remixes/check", json=changed).json()
    assert check["problems"] == []
    assert check["inspired_by"]["title"] == "First flip"
    assert check["inspired_by"]["remixer"] == "Fan (Superfan)"
    remix = publish(qa, changed)
    credit = remix["disclosure"]["inspired_by"]
    assert credit == check["inspired_by"]
    assert credit == {
        "remix_id": original["id"],
        "title": "First flip",
        "remixer": "Fan (Superfan)",
        "link": f"encore://remix/{original['id']}",
    }
    lines = {(ln["role"], ln["party"]): ln for ln in remix["split"]["lines"]}
    # A quarter of the 20 % creator share; the artist's and the platform's shares unchanged.
    assert lines[("creator", "QA (diagnostics)")]["basis_points"] == 1500
    theirs = lines[("original_remixer", "Fan (Superfan)")]
    assert theirs["basis_points"] == 500 and theirs["remix_id"] == original["id"]
    assert lines[("platform", "Encore (platform)")]["basis_points"] == 1500
    assert sum(ln["basis_points"] for ln in remix["split"]["lines"]) == 10000
    assert check["split"] == remix["split"]  # what Submit showed is what was recorded
    # The credit is no transformation of the sound.
    assert "inspired_by" not in remix["disclosure"]["other_transformations"]

    # Forking your own remix credits it, and pays nobody twice.
    own = fan("POST", f"/remixes/{original['id']}/fork").json()
    mine = publish(fan, own | {"tempo_ratio": 1.1})
    assert mine["disclosure"]["inspired_by"]["remix_id"] == original["id"]
    assert {ln["role"] for ln in mine["split"]["lines"]} == {"platform", "creator", "rightsholder"}


def test_lineage_must_name_a_published_remix_of_the_same_track(users, published):
    qa, fan = users["qa"], users["fan"]
    track = qa("GET", f"/tracks/{TRACK}").json()
    base = doc_for(track, {stem_ids(track)[3]: {"gain_db": -7.5}}, title="Lineage check")

    def refused(inspired_by: str, api: Api = qa) -> str:
        doc = base | {"inspired_by": inspired_by}
        message = assert_error(api.submit(doc), 422, "invalid_inspired_by")
        # The pre-submit check says the same, beside any other problem.
        check = api("POST", "/remixes/check", json=doc).json()
        assert [p["code"] for p in check["problems"]] == ["invalid_inspired_by"]
        assert check["split"] is None
        return message

    assert "not a published remix you can hear" in refused("0123456789abcdef0123456789abcdef")
    message = refused(published["elsewhere"]["id"])
    assert "a remix of another track ('Paper Lanterns')" in message
    assert "same track" in message
    # Taken down: for another fan like an unknown id, for its creator said plainly.
    assert "not a published remix you can hear" in refused(published["withdrawn"]["id"], fan)
    assert "the artist took it down" in refused(published["withdrawn"]["id"], qa)
    # Not an id at all: the document's own rule.
    resp = qa.submit(base | {"inspired_by": "a b/c"})
    assert "inspired_by must be a remix id" in assert_error(resp, 422, "invalid_request")
    # Forking what is not published, or not there.
    assert_error(fan("POST", f"/remixes/{published['withdrawn']['id']}/fork"), 404, "not_found")
    assert_error(
        users["casual"]("POST", f"/remixes/{published['first']['id']}/fork"), 403, "not_entitled"
    )


def test_the_split_with_an_original_remixer_sums_to_exactly_one():
    for creator_share in (0.0, 0.01, 0.2, 0.333, 0.5):
        statement = split_statement(
            creator="C",
            creator_share=creator_share,
            platform="P",
            platform_bp=1500,
            used_stems=["a", "b", "c"],
            rightsholders={},
            default_rightsholder="Artist",
            original_remixer=("O", "r1"),
        )
        shares = {ln.role.value: ln.basis_points for ln in statement.lines if ln.party in "CO"}
        assert sum(ln.basis_points for ln in statement.lines) == 10000
        assert statement.total == Decimal(1)
        assert shares["creator"] + shares["original_remixer"] == round(creator_share * 10000)
        assert shares["original_remixer"] <= shares["creator"]
