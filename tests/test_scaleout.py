"""The platform scaled out: two API processes and two render workers on one PostgreSQL (the
test cluster of tests/plugins/postgres.py; the render queue, procrastinate, lives in it, so no
other broker runs) and one shared storage directory that no process has as its data dir.

Thirty fans' submissions go to both APIs at once while one API process is SIGKILLed mid-request
(its clients retry on the other with the same Idempotency-Key) and the worker rendering the
first remix is SIGKILLed mid-render (its job goes to the other worker). Every submission ends
as exactly one remix, published once, readable through either API. Then: one fan's pile of
renders does not hold up another fan's, and a remix that would cost too much is refused at
submission with a 422 that says why.

Renders are kept short (an arrangement of a 2-second slot of a demo track) so the module runs
in well under a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.embedded import PlatformProcess, start_platform
from core.contract import RemixDocument, Role, Tier
from server.db import Remix, init_db, make_engine, make_sessionmaker
from server.demo import ensure_user, seed_demo
from server.render_limits import estimate
from server.storage import Storage
from server.worker import READY_MARKER
from tests.platform_helpers import PASSWORD, Api, assert_error, wait_for
from tests.plugins.platform import REPO, login
from tests.plugins.postgres import create_database

TRACK = "neon-harbor"
TRACK_SECONDS = 72.0
N_STEMS = 5
MAX_RENDER_SECONDS = 120
STALLED_AFTER = 3  # seconds without a heartbeat before a worker's job goes to another
FANS = 6
PER_FAN = 5


@dataclass
class Worker:
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM: the worker finishes the render in hand, then exits."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()


def start_worker(data_dir: Path, common: list[str], env: dict[str, str]) -> Worker:
    """`encore-platform worker`, returned once it says it is taking jobs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker", "--data-dir", str(data_dir), *common],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )
    worker = Worker(process)
    ready = threading.Event()

    def pump() -> None:  # NB: for the worker's whole life, so its pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            worker.log.append(line.rstrip())
            del worker.log[:-300]
            if line.startswith(READY_MARKER):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(120) or process.poll() is not None:
        worker.kill()
        raise RuntimeError("worker did not start:\n" + "\n".join(worker.log[-40:]))
    return worker


@dataclass
class ScaleOut:
    db_url: str
    storage: Path
    apis: list[PlatformProcess]
    workers: list[Worker]
    sessions: sessionmaker
    fans: list[str]
    max_render_mb: float
    root: Path
    common: list[str]
    env: dict[str, str]

    def replace_workers(self, count: int) -> None:
        """Stop the workers (gracefully) and start `count` new ones."""
        for worker in self.workers:
            worker.stop()
        with ThreadPoolExecutor(count) as pool:
            self.workers[:] = pool.map(
                lambda i: start_worker(self.root / f"new-worker{i}", self.common, self.env),
                range(count),
            )


def short_doc(track: dict, slot: float, length: float = 2.0, **overrides) -> dict:
    """A remix of `length` seconds from `slot` s into the track (the arrangement makes it a
    derivative, and different slots are different recipes)."""
    return {
        "format": "encore.remix/1",
        "track_id": track["id"],
        "track_version": track["version"],
        "title": f"Slot {slot:g}",
        "arrangement": [{"name": "cut", "start": slot, "end": slot + length}],
    } | overrides


def _memory_bound() -> float:
    """Between what a plain short remix and a slowed-down one are estimated to need."""
    plain = RemixDocument.model_validate(
        {"format": "encore.remix/1", "track_id": TRACK, "track_version": 1, "title": "x"}
    )
    slowed = plain.model_copy(update={"tempo_ratio": 0.8})
    low = estimate(plain, TRACK_SECONDS, N_STEMS, 48000).megabytes
    high = estimate(slowed, TRACK_SECONDS, N_STEMS, 48000).megabytes
    assert low < high
    return (low + high) / 2


@pytest.fixture(scope="module")
def scaleout(postgres_url, tmp_path_factory, demo_env) -> Iterator[ScaleOut]:
    root = tmp_path_factory.mktemp("scaleout")
    db_url = create_database(postgres_url)
    storage = root / "shared-storage"
    common = ["--database-url", db_url, "--storage-dir", str(storage)]
    max_mb = _memory_bound()
    env = demo_env | {
        "ENCORE_WORKER_STALLED_AFTER": str(STALLED_AFTER),
        "ENCORE_MAX_RENDER_SECONDS": str(MAX_RENDER_SECONDS),
        "ENCORE_MAX_RENDER_MB": str(max_mb),
    }
    apis: list[PlatformProcess] = []
    workers: list[Worker] = []
    engine = make_engine(db_url, requests_in_flight=4)
    init_db(engine)  # what `encore-platform seed-demo` does, without starting a process
    with make_sessionmaker(engine)() as db:
        seed_demo(db, Storage(storage), Path(demo_env["ENCORE_DEMO_CACHE"]))
    try:
        with ThreadPoolExecutor(4) as pool:
            api_futures = [
                pool.submit(
                    start_platform,
                    root / f"api{i}",
                    demo=False,
                    extra_args=[*common, "--no-worker"],
                    env=env,
                )
                for i in range(2)
            ]
            worker_futures = [
                pool.submit(start_worker, root / f"worker{i}", common, env) for i in range(2)
            ]
            sessions = make_sessionmaker(engine)
            fans = [f"crowd{i}" for i in range(FANS + 2)]
            with sessions() as db:
                for name in fans:
                    ensure_user(
                        db,
                        name,
                        PASSWORD,
                        display_name=name.title(),
                        tier=Tier.SUPERFAN,
                        roles=[Role.FAN],
                    )
                db.commit()
            apis = [f.result() for f in api_futures]
            workers = [f.result() for f in worker_futures]
        yield ScaleOut(db_url, storage, apis, workers, sessions, fans, max_mb, root, common, env)
    finally:
        for worker in workers:
            worker.kill()
        for api in apis:
            api.kill()
        engine.dispose()


def _fan(url: str, name: str) -> Api:
    return Api(url, login(url, name, PASSWORD)["access_token"])


def _unfinished(out: ScaleOut, ids: list[str]) -> int:
    with out.sessions() as db:
        return db.scalar(
            select(func.count())
            .select_from(Remix)
            .where(Remix.id.in_(ids), Remix.status.in_(("received", "rendering")))
        )


def _kill_first_renderer(out: ScaleOut, killed: dict) -> None:
    """SIGKILL the worker that holds the first remix seen rendering (its pid is in the
    `render_worker` stamp, host:pid:token)."""
    pids = {w.pid: w for w in out.workers}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with out.sessions() as db:
            row = db.execute(
                select(Remix.id, Remix.render_worker).where(Remix.status == "rendering").limit(1)
            ).first()
        if row is not None and row.render_worker:
            pid = int(row.render_worker.split(":")[1])
            if pid in pids:
                pids[pid].kill()
                with out.sessions() as db:  # what the dead try left: mid-render, unpublished
                    status = db.scalar(select(Remix.status).where(Remix.id == row.id))
                killed.update(remix=row.id, pid=pid, status=status)
                return
        time.sleep(0.01)


def test_thirty_submissions_through_a_killed_api_and_a_killed_worker(scaleout):
    out = scaleout
    urls = [api.url for api in out.apis]
    fans = [_fan(urls[i % 2], name) for i, name in enumerate(out.fans[:FANS])]
    track = fans[0]("GET", f"/tracks/{TRACK}").json()
    jobs = []
    for f, fan in enumerate(fans):
        for k in range(PER_FAN):
            slot = 1.5 * (f * PER_FAN + k)
            jobs.append((fan, short_doc(track, slot), uuid.uuid4().hex, (f + k) % 2))
    answers: dict[str, requests.Response] = {}
    retried: list[str] = []
    start = threading.Barrier(len(jobs) + 1)
    first_answers = threading.Semaphore(0)

    def submit(fan: Api, doc: dict, key: str, api_index: int) -> None:
        start.wait()
        for attempt in range(6):
            index = (api_index + attempt) % 2
            try:
                resp = requests.post(
                    f"{urls[index]}/v1/remixes",
                    json=doc,
                    headers={"Authorization": f"Bearer {fan.token}", "Idempotency-Key": key},
                    timeout=60,
                )
            except requests.ConnectionError:  # that API process died under us: the other one
                retried.append(key)
                continue
            answers[key] = resp
            first_answers.release()
            return

    killed: dict = {}
    renderer_killer = threading.Thread(target=_kill_first_renderer, args=(out, killed))
    threads = [threading.Thread(target=submit, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    renderer_killer.start()
    start.wait()
    for _ in range(3):  # some answered; the rest are in flight now
        assert first_answers.acquire(timeout=60)
    out.apis[0].kill()  # SIGKILL, mid-request for the submissions it holds
    for thread in threads:
        thread.join(120)
    renderer_killer.join(90)

    assert len(answers) == len(jobs), "every submission got an answer from one API or the other"
    assert retried, "the killed API process had submissions in flight"
    assert {r.status_code for r in answers.values()} <= {200, 201}, [
        r.text[:300] for r in answers.values() if r.status_code not in (200, 201)
    ]
    ids = [r.json()["id"] for r in answers.values()]
    assert len(set(ids)) == len(jobs)
    with out.sessions() as db:  # one remix per submission, however often it was sent
        for _fan_api, _doc, key, _ in jobs:
            count = db.scalar(
                select(func.count()).select_from(Remix).where(Remix.idempotency_key == key)
            )
            assert count == 1, key
    assert killed, "a worker was rendering and was killed"
    assert killed["status"] == "rendering"

    assert wait_for(lambda: _unfinished(out, ids) == 0, timeout=180), "renders finished"
    with out.sessions() as db:
        remixes = {r.id: r for r in db.scalars(select(Remix).where(Remix.id.in_(ids)))}
    assert {r.status for r in remixes.values()} == {"published"}
    assert remixes[killed["remix"]].render_attempts == 2  # the killed try, then another worker's
    survivor = next(w for w in out.workers if w.pid != killed["pid"])
    assert str(survivor.pid) in remixes[killed["remix"]].render_worker
    for remix in remixes.values():
        assert remix.render_path == f"renders/{remix.id}.flac"
        assert (out.storage / remix.render_path).stat().st_size > 0
    assert not list((out.storage / "renders").glob("*.try.flac")), "no try left behind"

    # Every process agrees: the surviving API reports each status and serves each render.
    live = out.apis[1].url
    for fan, _doc, key, _ in jobs[::7]:
        remix_id = answers[key].json()["id"]
        api = Api(live, fan.token)
        assert api("GET", f"/remixes/{remix_id}").json()["status"] == "published"
        audio = api("GET", f"/remixes/{remix_id}/audio")
        assert audio.status_code == 200
        assert audio.content == (out.storage / f"renders/{remix_id}.flac").read_bytes()
    for fan in fans:
        mine = Api(live, fan.token)("GET", "/remixes").json()["remixes"]
        assert len(mine) == PER_FAN
        assert {r["status"] for r in mine} == {"published"}


def test_one_fans_pile_of_renders_does_not_hold_up_another_fan(scaleout):
    """With the workers stopped, one fan queues six renders, then another fan one; a new
    worker joins. One render per fan at a time: the other fan's render starts before the
    pile's second."""
    out = scaleout
    live = out.apis[1].url
    busy, other = _fan(live, out.fans[FANS]), _fan(live, out.fans[FANS + 1])
    track = busy("GET", f"/tracks/{TRACK}").json()
    for worker in out.workers:
        worker.stop()
    pile = []
    for k in range(6):
        resp = busy.submit(short_doc(track, 3.0 * k, length=6.0, title=f"Pile {k}"))
        assert resp.status_code == 201, resp.text
        pile.append(resp.json()["id"])
    resp = other.submit(short_doc(track, 50.0, title="Just one"))
    assert resp.status_code == 201, resp.text
    mine = resp.json()["id"]
    assert _unfinished(out, [*pile, mine]) == 7  # nothing renders without a worker
    out.replace_workers(1)
    assert wait_for(lambda: _unfinished(out, [*pile, mine]) == 0, timeout=180)
    with out.sessions() as db:
        started = dict(
            db.execute(
                select(Remix.id, Remix.render_started_at).where(Remix.id.in_([*pile, mine]))
            ).all()
        )
        statuses = set(db.scalars(select(Remix.status).where(Remix.id.in_([*pile, mine]))))
    assert statuses == {"published"}
    assert started[mine] < sorted(started[p] for p in pile)[1]


def test_a_costly_remix_is_refused_at_submission(scaleout):
    out = scaleout
    fan = _fan(out.apis[1].url, out.fans[0])
    track = fan("GET", f"/tracks/{TRACK}").json()
    long_arrangement = short_doc(track, 0.0, length=60.0)
    long_arrangement["arrangement"] *= 3  # 180 s, under the artist's 600 s, over the platform's
    message = assert_error(fan.submit(long_arrangement), 422, "render_too_long")
    assert f"at most {MAX_RENDER_SECONDS} s" in message
    slowed = short_doc(track, 0.0, tempo_ratio=0.8, arrangement=None)  # every stem stretched
    message = assert_error(fan.submit(slowed), 422, "render_too_large")
    assert f"{out.max_render_mb:.0f} MB per render" in message
    check = fan("POST", "/remixes/check", json=slowed).json()["problems"]
    assert [p["code"] for p in check] == ["render_too_large"]  # the studio is told before
