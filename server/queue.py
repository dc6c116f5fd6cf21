"""The render queue: how a submitted remix reaches a worker (server/worker.py does the work).

Two backends behind one small interface (`enqueue` inside the submission's transaction,
`start`, `stop`):

* **PostgreSQL: procrastinate** (`ProcrastinateQueue`). Jobs live in the platform's own
  database, so the job is inserted in the same transaction as the remix: a submission answered
  201 always has its job, whatever crashes. `encore-platform worker` processes on any number of
  machines take jobs (`FOR UPDATE SKIP LOCKED`, woken by LISTEN/NOTIFY) and heartbeat; a worker
  that stops heartbeating (SIGKILL, a lost machine) is declared dead after
  `Settings.worker_stalled_after` seconds and its job is handed to another worker. Fairness:
  every remix's job carries its fan's lock (procrastinate runs one job per lock at a time, so
  one fan's twenty long renders take at most `renders_per_user` workers) and a priority that
  puts each fan's n-th waiting render before anyone's n+1-th (round robin, even with one
  worker). `encore-platform serve` on PostgreSQL also runs one such worker in a thread
  unless started with `--no-worker` (API-only processes of a scaled-out platform).
* **SQLite: one thread in the API process** (`LocalRenderQueue`), consuming the same rows:
  remixes waiting in `received`. The embedded platform stays one process with no extra
  service; it takes waiting fans in turn (the fan served least recently goes first).

Why procrastinate (measured by benchmarks/queue_choice.py, benchmarks/README.md "Platform at
scale"): enqueueing costs 1-2.4 ms (Redis-backed Dramatiq 0.1-0.4 ms, Celery 0.7-1 ms: all
negligible next to a render of seconds), hundreds of jobs per second is far above what renders
need, a SIGKILLed worker's job ran again after ~3 s (Dramatiq's Redis broker: 16-23 s, Celery
with a 5 s visibility timeout: ~100 s), and it needs no service the scaled-out platform does
not already have, nor a second system to keep consistent with the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Protocol

from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.contract import RemixStatus
from server.clock import Clock
from server.config import Settings
from server.db import Remix
from server.pipeline import UNFINISHED
from server.render_limits import RenderLimits
from server.storage import Storage
from server.worker import RenderJob, RetryLater, new_token, release, render_job, worker_name

log = logging.getLogger("encore.platform.queue")

TASK_NAME = "encore.render_remix"
QUEUE_NAME = "renders"
_SCHEMA_LOCK_KEY = 0x656E636F7251  # "encorQ": one process installs the queue's tables


class RenderQueue(Protocol):
    def enqueue(self, db: Session, remix: Remix) -> None:
        """Queue `remix` (already added to `db`) in `db`'s transaction: both commit or neither."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


def render_job_for(
    settings: Settings, sessions: sessionmaker, storage: Storage, clock: Clock | None = None
) -> RenderJob:
    clock = clock if clock is not None else settings.make_clock()
    return RenderJob(sessions, storage, settings.render_attempts, RenderLimits(), clock)


def make_render_queue(
    settings: Settings, sessions: sessionmaker, storage: Storage, clock: Clock | None = None
) -> LocalRenderQueue | ProcrastinateQueue:
    if settings.is_sqlite:
        return LocalRenderQueue(render_job_for(settings, sessions, storage, clock))
    return ProcrastinateQueue(settings, sessions, storage, in_process=settings.run_worker)


# -- SQLite: a thread in the API process -------------------------------------------------------


RENDER_NICE_ENV = "ENCORE_RENDER_NICE"
DEFAULT_RENDER_NICE = 10
"""The embedded platform's render thread runs this much nicer than the rest (Linux); the tests'
platforms set ENCORE_RENDER_NICE=0, so that their renders keep pace on a machine kept busy."""


def render_nice() -> int:
    try:
        return int(os.environ.get(RENDER_NICE_ENV, DEFAULT_RENDER_NICE))
    except ValueError:
        return DEFAULT_RENDER_NICE


def lower_this_threads_priority(nice: int | None = None) -> None:
    """Make the calling thread (and the threads it starts) yield the CPU to everything else.

    The embedded platform shares the fan's machine with the studio: a render in full flight took
    2 cores' worth of time from the studio's audio and underflowed its output 3-5 times as often
    (96-265 underflows in 30 s of playback against 30-79, and 1-3 s of playback lost) while the
    demo's remixes rendered; at nice 10, 5-10. Renders are background work: they finish when the
    studio leaves time. Linux only: there a thread's nice value is its own (`setpriority` on its
    thread id); elsewhere that call would name a process."""
    nice = render_nice() if nice is None else nice
    if sys.platform != "linux" or nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as exc:  # a container that forbids it: renders still run, at normal priority
        log.warning("Render thread keeps its priority: %s", exc)


class LocalRenderQueue:
    """One render thread over the remixes table (the embedded platform)."""

    POLL_S = 2.0  # a missed wake-up costs at most this
    RETRY_S = 2.0  # a failed try waits this long before the next

    def __init__(self, job: RenderJob) -> None:
        self.job = job
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: tuple[str, str] | None = None  # (remix id, token) being rendered
        self._not_before: dict[str, float] = {}
        self._served: dict[int, int] = {}  # user id -> turn of their last render
        self._turn = 0

    def enqueue(self, db: Session, remix: Remix) -> None:
        db.flush()
        event.listen(db, "after_commit", lambda _s: self._wake.set(), once=True)

    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._run, name="remix-render", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        current = self._current
        if self._thread.is_alive() and current is not None:
            release(self.job, *current)  # the try in flight does not count against the remix
        self._thread = None

    def _recover(self) -> None:
        """A remix left `rendering` was being rendered by this platform when it died: it waits
        again (the try counted: a remix that crashes the platform is rejected after a few)."""
        with self.job.sessions() as db:
            db.execute(
                update(Remix)
                .where(Remix.status == RemixStatus.RENDERING.value)
                .values(status=RemixStatus.RECEIVED.value, render_worker=None)
            )
            db.commit()

    def _next(self) -> str | None:
        """The oldest waiting remix of the fan whose last render was longest ago."""
        with self.job.sessions() as db:
            rows = db.execute(
                select(Remix.id, Remix.user_id)
                .where(Remix.status == RemixStatus.RECEIVED.value)
                .order_by(Remix.created_at, Remix.id)
                .limit(500)
            ).all()
        now = time.monotonic()
        best: tuple[int, int, str, int] | None = None
        for position, (remix_id, user_id) in enumerate(rows):
            if self._not_before.get(remix_id, 0.0) > now:
                continue
            key = (self._served.get(user_id, 0), position, remix_id, user_id)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        self._turn += 1
        self._served[best[3]] = self._turn
        return best[2]

    def _run(self) -> None:
        lower_this_threads_priority()
        while not self._stopping.is_set():
            try:
                remix_id = self._next()
            except Exception:
                log.exception("Render queue: cannot read waiting remixes")
                remix_id = None
            if remix_id is None:
                self._wake.wait(self.POLL_S)
                self._wake.clear()
                continue
            token = new_token()
            self._current = (remix_id, token)
            try:
                render_job(self.job, remix_id, token)
                self._not_before.pop(remix_id, None)
            except RetryLater:
                self._not_before[remix_id] = time.monotonic() + self.RETRY_S
            except Exception:
                log.exception("Render queue: remix %s failed", remix_id)
                self._not_before[remix_id] = time.monotonic() + self.RETRY_S
            finally:
                self._current = None


# -- PostgreSQL: procrastinate -----------------------------------------------------------------


def libpq_url(sqlalchemy_url: str) -> str:
    """The SQLAlchemy URL as psycopg/libpq spells it (procrastinate connects by itself)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def ensure_queue_schema(engine: Engine) -> None:
    """Install procrastinate's tables and functions once (concurrent starts wait on a lock)."""
    from procrastinate.schema import SchemaManager

    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
        try:
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
                log.warning("Installing the render queue's tables (procrastinate)")
                driver = conn.connection.driver_connection  # psycopg's, under SQLAlchemy's
                assert driver is not None  # a connection just opened has its driver's
                driver.execute(SchemaManager.get_schema())
            conn.commit()
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK_KEY})
            conn.commit()


def user_lock(user_id: int, remix_id: str, slots: int) -> str:
    """The procrastinate lock of a remix's job: jobs with one lock run one at a time, so a fan
    has at most `slots` renders running however many workers there are."""
    if slots <= 1:
        return f"renders-of-user-{user_id}"
    return f"renders-of-user-{user_id}-{int(remix_id[:8], 16) % slots}"


class ProcrastinateQueue:
    """Render jobs in PostgreSQL; workers anywhere (server/worker.py)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker,
        storage: Storage,
        in_process: bool = False,
    ) -> None:
        import procrastinate

        self.settings = settings
        self.job = render_job_for(settings, sessions, storage)
        self.sessions = sessions
        self.in_process = in_process
        self.stalled_after = settings.worker_stalled_after
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=libpq_url(settings.db_url), min_size=1, max_size=4
            )
        )
        # Deferring happens on the submission's own connection (never opened: no pool).
        self._defer = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
        retry = procrastinate.RetryStrategy(max_attempts=settings.render_attempts + 2, wait=2)
        for app in (self.app, self._defer):
            app.task(name=TASK_NAME, queue=QUEUE_NAME, retry=retry, pass_context=True)(self._render)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def _job(self, remix_id: str, user_id: int, ahead: int):  # -> procrastinate.jobs.Job
        """The job of one remix. `ahead`: the fan's remixes already waiting. Workers take jobs
        by priority, then age: the n-th waiting render of every fan goes before anyone's
        n+1-th (round robin), and the fan's lock keeps their renders to `renders_per_user`."""
        from procrastinate.jobs import Job

        return Job(
            id=None,
            queue=QUEUE_NAME,
            priority=-ahead,
            lock=user_lock(user_id, remix_id, self.settings.renders_per_user),
            queueing_lock=f"remix-{remix_id}",
            task_name=TASK_NAME,
            task_kwargs={"remix_id": remix_id},
        )

    def enqueue(self, db: Session, remix: Remix) -> None:
        db.flush()  # the remix row (and its id) first, in this transaction
        self._defer_in(db, remix.id, remix.user_id)

    def _defer_in(self, db: Session, remix_id: str, user_id: int) -> None:
        ahead = db.scalar(
            select(func.count())
            .select_from(Remix)
            .where(Remix.user_id == user_id, Remix.status.in_(UNFINISHED), Remix.id != remix_id)
        )
        connection = db.connection().connection.driver_connection
        self._defer.job_manager.defer_job(self._job(remix_id, user_id, ahead or 0), connection)

    # -- the worker side ---------------------------------------------------------------------

    def _render(self, context: object, remix_id: str) -> str:
        """The task: one try (procrastinate runs it in a thread; RetryLater -> retried)."""
        return render_job(self.job, remix_id)

    def work(self) -> None:
        """Run a worker in this thread until SIGTERM/SIGINT (the `worker` command)."""
        asyncio.run(self._work_async(install_signal_handlers=True))

    async def _work_async(self, install_signal_handlers: bool) -> None:
        async with self.app.open_async():
            sweeper = asyncio.create_task(self._sweep_forever(), name="render-sweeper")
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE_NAME],
                    concurrency=1,  # renders are CPU-bound: one per worker process
                    name=worker_name(),
                    wait=True,
                    install_signal_handlers=install_signal_handlers,
                    update_heartbeat_interval=max(0.5, self.stalled_after / 5),
                    stalled_worker_timeout=self.stalled_after,
                    fetch_job_polling_interval=max(0.5, min(5.0, self.stalled_after / 3)),
                    delete_jobs="successful",
                    shutdown_graceful_timeout=30.0,
                )
            finally:
                sweeper.cancel()

    async def _sweep_forever(self) -> None:
        interval = max(0.5, self.stalled_after / 3)
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("Render queue sweep failed")
            await asyncio.sleep(interval)

    async def sweep(self) -> None:
        """Give dead workers' jobs to the living, and queue any remix without a job."""
        manager = self.app.job_manager
        for stalled in await manager.get_stalled_jobs(
            seconds_since_heartbeat=self.stalled_after, queue=QUEUE_NAME
        ):
            try:
                await manager.retry_job(stalled)
                log.warning("Job %s of a dead worker is queued again", stalled.id)
            except Exception:
                pass  # another worker's sweep retried it first
        await asyncio.to_thread(self._queue_orphans)

    def _queue_orphans(self) -> None:
        """Remixes waiting with no job (from before the queue existed, or whose job
        procrastinate gave up on): each gets one; the claim then decides."""
        from procrastinate.exceptions import AlreadyEnqueued

        with self.sessions() as db:
            orphans = db.execute(
                text(
                    "SELECT r.id, r.user_id FROM remixes r WHERE r.status IN "
                    "('received', 'rendering') AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j "
                    "WHERE j.queueing_lock = 'remix-' || r.id AND j.status IN ('todo', 'doing'))"
                )
            ).all()
            for remix_id, user_id in orphans:
                try:
                    with db.begin_nested():
                        self._defer_in(db, remix_id, user_id)
                except AlreadyEnqueued:
                    pass
            db.commit()
        if orphans:
            log.warning("Queued %d remixes that had no render job", len(orphans))

    # -- in the API process (`serve` on PostgreSQL without --no-worker) ----------------------

    def start(self) -> None:
        if not self.in_process:
            return
        self._thread = threading.Thread(target=self._run_thread, name="render-worker", daemon=True)
        self._thread.start()

    def _run_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._work_async(install_signal_handlers=False))
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("The in-process render worker stopped")
        finally:
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
        self._thread = None


__all__ = [
    "LocalRenderQueue",
    "ProcrastinateQueue",
    "RenderQueue",
    "ensure_queue_schema",
    "make_render_queue",
    "worker_name",
]
