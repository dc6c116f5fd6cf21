"""The render job's bookkeeping (server/worker.py) on a real SQLite platform database with the
demo catalog: limited tries, a remix that keeps failing rejected with a reason a fan can act
on, a platform that died mid-render three times does not crash-loop, a repeated delivery of a
finished job does nothing. In-process: the queue's thread and the job are the units here (the
scaled-out processes are tests/test_scaleout.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from server.db import Remix, Track, User, init_db, make_engine, make_sessionmaker
from server.demo import seed_demo
from server.queue import LocalRenderQueue
from server.render_limits import RenderLimits
from server.storage import Storage
from server.worker import RenderJob, RetryLater, render_job
from tests.platform_helpers import wait_for

TRACK = "neon-harbor"


@dataclass
class Platform:
    sessions: sessionmaker
    storage: Storage
    job: RenderJob


@pytest.fixture(scope="module")
def platform_db(tmp_path_factory, demo_cache: Path) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("render-jobs")
    engine = make_engine(f"sqlite:///{root / 'platform.sqlite3'}", requests_in_flight=2)
    init_db(engine)
    sessions = make_sessionmaker(engine)
    storage = Storage(root)
    with sessions() as db:
        seed_demo(db, storage, demo_cache)
    yield Platform(sessions, storage, RenderJob(sessions, storage, 3, RenderLimits()))
    engine.dispose()


def _remix(platform: Platform, slot: float, **columns) -> str:
    """A stored submission of a 2-second remix (as POST /v1/remixes stores it)."""
    with platform.sessions() as db:
        fan = db.scalar(select(User).where(User.username == "fan"))
        track = db.get(Track, TRACK)
        assert fan is not None and track is not None
        doc = {
            "format": "encore.remix/1",
            "track_id": TRACK,
            "track_version": track.version,
            "title": f"Slot {slot:g}",
            "arrangement": [{"start": slot, "end": slot + 2.0}],
        }
        remix = Remix(
            user_id=fan.id,
            track_id=TRACK,
            idempotency_key=uuid.uuid4().hex,
            title=doc["title"],
            document=doc,
            document_hash=uuid.uuid4().hex,
            status=columns.pop("status", "received"),
            **columns,
        )
        db.add(remix)
        db.commit()
        return remix.id


def _get(platform: Platform, remix_id: str) -> Remix:
    with platform.sessions() as db:
        remix = db.get(Remix, remix_id)
        assert remix is not None
        return remix


def test_a_render_runs_once_and_a_repeated_delivery_does_nothing(platform_db):
    remix_id = _remix(platform_db, 10.0)
    assert render_job(platform_db.job, remix_id) == "published"
    rendered = platform_db.storage.path(f"renders/{remix_id}.flac")
    first = rendered.stat().st_mtime_ns
    assert render_job(platform_db.job, remix_id) == "published"  # the queue delivered it again
    remix = _get(platform_db, remix_id)
    assert remix.render_attempts == 1
    assert rendered.stat().st_mtime_ns == first


def test_a_remix_that_keeps_failing_is_rejected_after_three_tries(platform_db):
    remix_id = _remix(platform_db, 20.0, render_path=None)
    # Its track's drums are gone from storage (a broken mount, a lost file): every try fails.
    with platform_db.sessions() as db:
        track = db.get(Track, TRACK)
        stem = track.stems[0]
        stem_path = platform_db.storage.path(stem.path)
    moved = stem_path.with_name(stem_path.name + ".away")
    stem_path.rename(moved)
    try:
        for tries in (1, 2):
            with pytest.raises(RetryLater):
                render_job(platform_db.job, remix_id)
            remix = _get(platform_db, remix_id)
            assert (remix.status, remix.render_attempts) == ("received", tries)
        assert render_job(platform_db.job, remix_id) == "rejected"
    finally:
        moved.rename(stem_path)
    remix = _get(platform_db, remix_id)
    assert remix.render_attempts == 3
    assert "tried to render this remix 3 times" in remix.reason
    assert "submit a simpler version" in remix.reason
    assert not list(stem_path.parent.parent.parent.glob("renders/*.try.flac"))


def test_a_remix_the_platform_died_on_three_times_is_rejected_not_rendered_again(platform_db):
    """Left `rendering` by a platform killed mid-render for the third time: the next start
    rejects it instead of trying (and perhaps dying) once more; other remixes render."""
    doomed = _remix(platform_db, 30.0, status="rendering", render_attempts=3)
    fine = _remix(platform_db, 32.0)
    queue = LocalRenderQueue(platform_db.job)
    queue.start()
    try:
        assert wait_for(lambda: _get(platform_db, fine).status == "published", timeout=120)
        assert wait_for(lambda: _get(platform_db, doomed).status == "rejected", timeout=30)
    finally:
        queue.stop()
    assert "3 times" in _get(platform_db, doomed).reason
    assert _get(platform_db, doomed).render_path is None
