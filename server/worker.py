"""A render worker's job: claim one remix, render it, publish it exactly once.

The remix row is the truth, whatever queue delivered the job (server/queue.py) and however
often it delivers it (queues deliver at least once: a worker SIGKILLed mid-render leaves its job
to be tried again by another). Three short transactions, each on the remix row locked:

1. **claim**: a finished remix is left alone (a second delivery does nothing); a remix tried
   `attempts` times already is rejected with a reason; otherwise its attempt count goes up (a
   try that kills its worker counts, so a remix that crashes renderers cannot loop forever) and
   this try's token is written into `render_worker`.
2. the render, outside any transaction, into a file named for this try.
3. **publish**: only the try whose token is still on the row moves its file into place and
   publishes; a try that was presumed dead (and replaced) discards its work. So two workers that
   render the same remix at once still publish it once.

`encore-platform worker` (`run_worker`) runs this from the PostgreSQL queue in a process of its
own, on any machine that reaches the database and the shared storage.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.contract import RemixDocument, RemixStatus, RightsPolicy
from server.clock import Clock, SystemClock
from server.db import Remix, Track
from server.pipeline import UNFINISHED, check_document, render_to_file
from server.render_limits import RenderLimits
from server.storage import Storage

log = logging.getLogger("encore.platform.worker")

READY_MARKER = "ENCORE_WORKER_READY"


class RetryLater(Exception):
    """This try failed and the remix has tries left: the queue should deliver it again."""


@dataclass(frozen=True)
class RenderJob:
    """What a try needs besides the remix id (shared by every try of one worker)."""

    sessions: sessionmaker
    storage: Storage
    attempts: int
    limits: RenderLimits
    clock: Clock = field(default_factory=SystemClock)  # stamps `render_started_at`


def worker_name() -> str:
    """host:pid, as operators read it in `render_worker` (and tests find the process by)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_token() -> str:
    """One try's identity: the worker's name and a random suffix."""
    return f"{worker_name()}:{uuid.uuid4().hex[:8]}"


def gave_up_reason(tries: int) -> str:
    return (
        f"The platform tried to render this remix {tries} times and could not finish it, so it "
        "was not published. Nothing is wrong with your account: submit a simpler version "
        "(a shorter arrangement, fewer effects or automation moves), or the same one again later."
    )


def _locked(db: Session, remix_id: str) -> Remix | None:
    """The remix, its row locked until commit: a no-op UPDATE takes PostgreSQL's row lock and
    SQLite's write lock alike (as server/antispam.py does)."""
    db.execute(update(Remix).where(Remix.id == remix_id).values(status=Remix.status))
    return db.scalar(
        select(Remix)
        .where(Remix.id == remix_id)
        .options(selectinload(Remix.track).selectinload(Track.stems))
        .execution_options(populate_existing=True)
    )


def _reject(db: Session, remix: Remix, reason: str) -> str:
    remix.status = RemixStatus.REJECTED.value
    remix.reason = reason
    db.commit()
    return remix.status


def claim(job: RenderJob, remix_id: str, token: str) -> Remix | str:
    """The remix, claimed for this try; or its status when there is nothing to render."""
    with job.sessions() as db:
        remix = _locked(db, remix_id)
        if remix is None:
            raise LookupError(f"no remix {remix_id}")
        if remix.status not in UNFINISHED:
            db.commit()
            return remix.status  # published, rejected...: a repeated delivery does nothing
        if remix.render_attempts >= job.attempts:
            log.warning("Remix %s: %d tries, rejecting it", remix_id, remix.render_attempts)
            return _reject(db, remix, gave_up_reason(remix.render_attempts))
        remix.render_attempts += 1
        remix.render_worker = token
        remix.render_started_at = job.clock.now()
        remix.status = RemixStatus.RENDERING.value
        remix.reason = None
        db.commit()
        return remix


def release(job: RenderJob, remix_id: str, token: str) -> None:
    """Hand an unfinished try back (a worker shutting down): the remix waits again and the try
    does not count. A no-op once another try took the remix over."""
    with job.sessions() as db:
        remix = _locked(db, remix_id)
        if remix is not None and remix.render_worker == token and remix.status in UNFINISHED:
            remix.status = RemixStatus.RECEIVED.value
            remix.render_worker = None
            remix.render_attempts = max(0, remix.render_attempts - 1)
        db.commit()


def render_job(job: RenderJob, remix_id: str, token: str | None = None) -> str:
    """Do one try of rendering `remix_id`; returns the remix's status afterwards.

    Raises RetryLater when the try failed and tries are left (the remix is back to received)."""
    token = token or new_token()
    claimed = claim(job, remix_id, token)
    if isinstance(claimed, str):
        return claimed
    remix = claimed
    track = remix.track
    relpath = job.storage.render_relpath(remix.id)
    final = job.storage.path(relpath)
    attempt = final.with_name(f"{remix.id}.{token.rsplit(':', 1)[1]}.try.flac")
    try:
        doc = RemixDocument.model_validate(remix.document)
        policy = RightsPolicy.model_validate(track.policy or {})
        problems = check_document(doc, track, policy, job.storage, job.limits)
        if not problems:
            loudness = render_to_file(doc, track, job.storage, attempt)
    except Exception as exc:
        log.exception("Rendering remix %s failed (try %d)", remix_id, remix.render_attempts)
        attempt.unlink(missing_ok=True)
        return _failed(job, remix_id, token, exc)
    with job.sessions() as db:
        row = _locked(db, remix_id)  # the remix as it is now, locked
        if row is None or row.render_worker != token or row.status not in UNFINISHED:
            db.commit()  # presumed dead and replaced: the other try decides
            attempt.unlink(missing_ok=True)
            return row.status if row is not None else RemixStatus.REJECTED.value
        if problems:  # the policy (or the platform's limits) changed since submission
            reason = "; ".join(p.message.rstrip(".") for p in problems)
            return _reject(db, row, f"The track's policy changed after you submitted: {reason}.")
        os.replace(attempt, final)
        row.render_path = relpath
        row.loudness_lufs = loudness.output_lufs if math.isfinite(loudness.output_lufs) else None
        final_status = (
            RemixStatus.PENDING_APPROVAL if policy.requires_approval else RemixStatus.PUBLISHED
        )
        row.status = final_status.value
        db.commit()
        return row.status


def _failed(job: RenderJob, remix_id: str, token: str, exc: Exception) -> str:
    with job.sessions() as db:
        remix = _locked(db, remix_id)
        if remix is None or remix.render_worker != token or remix.status not in UNFINISHED:
            db.commit()
            return remix.status if remix is not None else RemixStatus.REJECTED.value
        if remix.render_attempts >= job.attempts:
            return _reject(db, remix, gave_up_reason(remix.render_attempts))
        remix.status = RemixStatus.RECEIVED.value
        remix.render_worker = None
        db.commit()
    raise RetryLater(f"remix {remix_id}: {exc}") from exc


def warm_up() -> None:
    """Render and measure a tenth of a second of silence: loads the compiled audio kernels
    (seconds on a cold process), so a worker is ready when it says so and its first job is
    not slow enough to look stalled."""
    import numpy as np

    from audio.offline import render_mix
    from server.loudness import measure

    mix = render_mix(np.zeros((2, 2, 4800), np.float32), 0.0, 0.0, False, False, 0.0)
    measure(mix, 48000)


def run_worker(settings: object) -> int:
    """`encore-platform worker`: render from the shared queue until SIGTERM/SIGINT."""
    from server.config import Settings
    from server.db import init_db, make_engine, make_sessionmaker
    from server.queue import ProcrastinateQueue, ensure_queue_schema

    assert isinstance(settings, Settings)
    if settings.is_sqlite:
        print(
            "encore-platform worker needs the platform's PostgreSQL database "
            "(--database-url postgresql+psycopg://user@host/db). On SQLite the platform renders "
            "inside `encore-platform serve` itself: no worker process is needed.",
            file=sys.stderr,
        )
        return 2
    engine = make_engine(settings.db_url, requests_in_flight=2)
    init_db(engine)
    ensure_queue_schema(engine)
    queue = ProcrastinateQueue(settings, make_sessionmaker(engine), Storage(settings.storage_root))
    warm_up()
    print(f"{READY_MARKER} {worker_name()}", flush=True)
    try:
        queue.work()
    finally:
        engine.dispose()
    return 0
