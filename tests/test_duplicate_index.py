"""The duplicate checks are index look-ups: their cost does not grow with a track's live remixes
(issue 9). Asserted on the query plans SQLite chooses with 2 000 live remixes stored, not on
time (benchmarks/duplicates.py has the figures)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from benchmarks.duplicates import populate, recipe
from core.remix import audible_stems
from server.antispam import NEAR_GAIN_DB, NEAR_TEMPO, check_duplicates, near_key
from server.config import Settings
from server.db import Remix, Track, User, init_db, make_engine, make_sessionmaker
from server.demo import seed_demo
from server.errors import ApiError
from server.pipeline import canonical_hash
from server.storage import Storage


@pytest.fixture(scope="module")
def stored(tmp_path_factory, demo_cache):
    """A platform database with 2 000 live remixes of one track, all of one shape."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dup"), demo=True, demo_cache_dir=demo_cache
    )
    engine = make_engine(settings.db_url)
    init_db(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        seed_demo(db, Storage(settings.storage_root), settings.demo_cache)
        track = db.query(Track).order_by(Track.title).first()
        user = db.query(User).filter(User.username == "fan").one()
        populate(db, track, user, 2000, "same_tempo")
    yield engine, sessions
    engine.dispose()


def _plans(engine, sessions, doc_index: int) -> tuple[list[str], ApiError | None]:
    """Run the checks for the stored-population recipe `doc_index`; the plan of every query."""
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    problem = None
    try:
        with sessions() as db:
            track = db.query(Track).order_by(Track.title).first()
            user = db.query(User).filter(User.username == "fan").one()
            stems = [s.id for s in track.stems]
            doc = recipe(track, stems, doc_index, "same_tempo")
            audible = audible_stems(doc, stems)
            statements.clear()
            try:
                check_duplicates(db, user, doc, canonical_hash(doc, stems), audible, stems)
            except ApiError as exc:
                problem = exc
            db.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        plans = [
            " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
            if "FROM remixes" in sql
        ]
    return plans, problem


def test_no_duplicate_check_reads_every_remix_of_the_track(stored):
    plans, problem = _plans(*stored, doc_index=10**6 + 1)  # a recipe stored nowhere
    assert problem is None
    assert len(plans) >= 2, plans  # the recipe's hash, then the near-duplicate look-up
    for plan in plans:
        assert "SCAN remixes" not in plan, plan  # a scan reads every stored remix
        assert "(track_id=?)" not in plan, plan  # so does a search on the track alone
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert any("ix_remixes_near" in plan for plan in plans), plans


def test_the_indexed_look_up_still_finds_a_near_duplicate(stored):
    """Remix 1234 with some levels moved by 0.4 dB: the index finds the same near duplicate
    that comparing it with every stored remix finds."""
    _engine, sessions = stored
    with sessions() as db:
        track = db.query(Track).order_by(Track.title).first()
        user = db.query(User).filter(User.username == "casual").one()  # another fan
        stems = [s.id for s in track.stems]
        doc = recipe(track, stems, 1234, "same_tempo")
        moved = doc.model_copy(
            update={
                "stems": {
                    s: v.model_copy(update={"gain_db": v.gain_db - 0.4 if k % 2 else v.gain_db})
                    for k, (s, v) in enumerate(doc.stems.items())
                }
            }
        )
        audible = audible_stems(moved, stems)
        with pytest.raises(ApiError) as caught:
            check_duplicates(db, user, moved, canonical_hash(moved, stems), audible, stems)
        db.rollback()
        # What comparing with every stored remix finds: the earliest within the rule's bounds.
        _shape, mine = near_key(moved, audible)
        stored_keys = db.execute(
            select(Remix.title, Remix.near_key).order_by(Remix.created_at, Remix.id)
        ).all()
        expected = next(
            title
            for title, theirs in stored_keys
            if abs(theirs["tempo"] - mine["tempo"]) < NEAR_TEMPO
            and max(abs(a - b) for a, b in zip(mine["gains"], theirs["gains"], strict=True))
            < NEAR_GAIN_DB
        )
    assert caught.value.code == "near_duplicate_remix"
    assert f"'{expected}'" in caught.value.message
