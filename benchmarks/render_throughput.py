"""Render throughput of the scaled-out platform, and what one render costs in memory.

Run from the repository root:

    .venv/bin/python benchmarks/render_throughput.py [--jobs 8] [--workers 1,2,4]
    .venv/bin/python benchmarks/render_throughput.py --memory

Prints ONE JSON line (progress goes to stderr). Figures are recorded in benchmarks/README.md.

Throughput: the demo 4-minute remix (benchmarks/platform_render.py: 8 demo stems looped to 4
minutes, a remix with gains, EQ, filters and both sends) submitted `--jobs` times by as many
fans (one fan's renders run one at a time: server/queue.py), rendered by 1, 2 and 4
`encore-platform worker` processes on one PostgreSQL (a throwaway cluster, as the tests start
it, unless `--database-url` names a server whose user may create databases) and one storage
directory. Timed from the commit that queues the jobs to the last one published: renders per
minute, and the ratio to one worker. The machine's cores bound the ratio (a render uses about
one core; the loudness pass and the strip helper thread use a second one in bursts).

`--memory`: each of a few documents rendered in a fresh process (as a worker renders it),
its peak resident memory next to server.render_limits' estimate, which the submission bound
uses: the estimate must not be below the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine_info  # noqa: E402
from benchmarks.platform_render import SECONDS, build_submission, document  # noqa: E402

BENCH_DIR = REPO / ".cache" / "platform-bench"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- throughput ---------------------------------------------------------------------------------


def _start_worker(data_dir: Path, db_url: str, env: dict[str, str]) -> subprocess.Popen:
    from server.worker import READY_MARKER

    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "server.cli", "worker", "--data-dir", str(data_dir)),
            *("--database-url", db_url, "--storage-dir", str(BENCH_DIR)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )
    ready = threading.Event()

    def pump() -> None:  # NB: for the worker's life, so its pipe never fills
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(READY_MARKER):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(180) or proc.poll() is not None:
        proc.kill()
        raise SystemExit("a worker did not start")
    return proc


def _seed(sessions: Any, n_fans: int) -> list[int]:
    """The benchmark's track (stems in BENCH_DIR) and `n_fans` fans; returns the fans' ids."""
    from core.contract import Tier
    from server.db import Stem, Track, User

    track, _storage = build_submission(BENCH_DIR)
    with sessions() as db:
        artist = User(
            username="bench-artist", display_name="Bench", password_hash="-", tier="premium"
        )
        artist.roles = "fan,artist"
        db.add(artist)
        db.flush()
        row = Track(
            id=track.id,
            version=1,
            title=track.title,
            artist_user_id=artist.id,
            bpm=track.bpm,
            key=track.key,
            policy={},
            sections=[],
        )
        columns = [c.key for c in Stem.__table__.columns if c.key != "track_id"]
        row.stems = [Stem(**{c: getattr(s, c) for c in columns}) for s in track.stems]
        db.add(row)
        fans = [
            User(
                username=f"bench-fan-{k}",
                display_name=f"Fan {k}",
                password_hash="-",
                tier=Tier.SUPERFAN.value,
            )
            for k in range(n_fans)
        ]
        db.add_all(fans)
        db.commit()
        return [f.id for f in fans]


def _round(queue: Any, sessions: Any, fans: list[int], doc: dict) -> tuple[float, list[float]]:
    """Queue one render per fan in one transaction; (seconds to the last publish, each
    render's seconds from claim to publish)."""
    from sqlalchemy import func, select

    from server.db import Remix

    with sessions() as db:
        ids = []
        for user_id in fans:
            remix = Remix(
                user_id=user_id,
                track_id=doc["track_id"],
                idempotency_key=uuid.uuid4().hex,
                title=doc["title"],
                document=doc,
                document_hash=uuid.uuid4().hex,
                status="received",
            )
            db.add(remix)
            queue.enqueue(db, remix)
            ids.append(remix.id)
        db.commit()
    start = time.perf_counter()
    while True:
        with sessions() as db:
            left = db.scalar(
                select(func.count())
                .select_from(Remix)
                .where(Remix.id.in_(ids), Remix.status.in_(("received", "rendering")))
            )
        if not left:
            break
        if time.perf_counter() - start > 1800:
            raise SystemExit("renders did not finish in 30 minutes")
        time.sleep(0.05)
    wall = time.perf_counter() - start
    with sessions() as db:
        rows = db.execute(
            select(Remix.status, Remix.render_started_at, Remix.updated_at).where(Remix.id.in_(ids))
        ).all()
    if {r.status for r in rows} != {"published"}:
        raise SystemExit(f"not every render was published: {sorted({r.status for r in rows})}")
    return wall, [(r.updated_at - r.render_started_at).total_seconds() for r in rows]


def throughput(jobs: int, worker_counts: list[int], database_url: str | None) -> dict[str, Any]:
    from server.config import Settings
    from server.db import init_db, make_engine, make_sessionmaker
    from server.queue import ProcrastinateQueue, ensure_queue_schema
    from server.storage import Storage
    from tests.plugins.postgres import create_database, start_cluster

    cluster = None
    if database_url is None:
        cluster = start_cluster()
        database_url = cluster.url
    db_url = create_database(database_url)
    engine = make_engine(db_url, requests_in_flight=2)
    results: dict[str, Any] = {}
    try:
        init_db(engine)
        ensure_queue_schema(engine)
        sessions = make_sessionmaker(engine)
        log(f"seeding {jobs} fans and the 4-minute track ...")
        fans = _seed(sessions, jobs)
        track, _storage = build_submission(BENCH_DIR)
        doc = document(track).model_dump(mode="json")
        with tempfile.TemporaryDirectory(prefix="encore-throughput-") as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=db_url, storage_dir=BENCH_DIR)
            queue = ProcrastinateQueue(settings, sessions, Storage(BENCH_DIR))
            env = {
                "ENCORE_WORKER_STALLED_AFTER": "120"
            }  # 4 busy workers on 2 cores: no false alarms
            for count in worker_counts:
                log(f"{count} worker(s): starting ...")
                workers = [
                    _start_worker(Path(tmp) / f"w{count}-{k}", db_url, env) for k in range(count)
                ]
                try:
                    load = os.getloadavg()[0]
                    wall, each = _round(queue, sessions, fans, doc)
                finally:
                    for proc in workers:
                        proc.terminate()
                    for proc in workers:
                        proc.wait(60)
                per_min = jobs / wall * 60.0
                results[str(count)] = {
                    "renders_per_min": round(per_min, 2),
                    "wall_s": round(wall, 2),
                    "render_s_median": round(sorted(each)[len(each) // 2], 2),
                    "load1_before": round(load, 2),
                }
                log(f"{count} worker(s): {results[str(count)]}")
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()
    base = results[str(worker_counts[0])]["renders_per_min"]
    for figures in results.values():
        figures["ratio_to_1"] = round(figures["renders_per_min"] / base, 2)
    return {"jobs": jobs, "workers": results}


# -- memory -------------------------------------------------------------------------------------

_CHILD = r"""
import json, sys, tempfile, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from core.contract import RemixDocument
from benchmarks.platform_render import build_submission
from server.pipeline import render_to_file
from server.worker import warm_up

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6

warm_up()
track, storage = build_submission(Path(sys.argv[2]))
doc = RemixDocument.model_validate_json(sys.argv[3])
idle = rss_mb()
peak, done = [idle], threading.Event()

def sample():  # NB: every 5 ms while the render runs
    while not done.wait(0.005):
        peak[0] = max(peak[0], rss_mb())

sampler = threading.Thread(target=sample)
sampler.start()
with tempfile.TemporaryDirectory() as tmp:
    render_to_file(doc, track, storage, Path(tmp) / "out.flac")
done.set()
sampler.join()
print(json.dumps({"idle_worker_mb": round(idle, 1), "render_mb": round(peak[0] - idle, 1)}))
"""


def memory() -> dict[str, Any]:
    from core.contract import RemixDocument
    from server.render_limits import estimate

    track, _storage = build_submission(BENCH_DIR)
    base = document(track)
    ten_minutes = [{"name": "all", "start": 0.0, "end": SECONDS}] * 2 + [
        {"name": "half", "start": 0.0, "end": SECONDS / 2}
    ]

    def variant(**changes: Any) -> RemixDocument:
        return RemixDocument.model_validate(base.model_dump(mode="json") | changes)

    cases = {
        "4 min": base,
        "4 min, tempo 0.8": variant(tempo_ratio=0.8),
        "4 min, key +2": variant(key_shift=2),
        "10 min arrangement": variant(arrangement=ten_minutes),
        "10 min arrangement, tempo 0.8": variant(arrangement=ten_minutes, tempo_ratio=0.8),
    }
    out = []
    for name, doc in cases.items():
        log(f"memory: {name} ...")
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(REPO), str(BENCH_DIR), doc.model_dump_json()],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        cost = estimate(doc, SECONDS, len(track.stems), 48000)
        out.append(
            {
                "document": name,
                "render_s": round(cost.seconds, 1),
                **measured,
                "estimate_mb": round(cost.megabytes, 1),
                "estimate_over_measured": round(cost.megabytes / measured["render_mb"], 2),
            }
        )
        log(f"  {out[-1]}")
    return {"memory": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8, help="renders per round (one per fan)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--memory", action="store_true", help="peak memory per render instead")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    if args.memory:
        figures = memory()
    else:
        counts = [int(c) for c in args.workers.split(",")]
        figures = throughput(args.jobs, counts, args.database_url)
    print(
        json.dumps(
            {
                "benchmark": "render_throughput",
                "remix": f"demo 4-minute remix, 8 stems ({SECONDS:g} s)",
                **figures,
                "machine": machine_info(),
                "load_before": load_before,
                "load_after": list(os.getloadavg()),
            }
        )
    )


if __name__ == "__main__":
    main()
