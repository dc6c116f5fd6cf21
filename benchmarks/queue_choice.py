"""How the render queue was chosen (issue 9): procrastinate (PostgreSQL) against Dramatiq and
Celery (Redis), measured the same way on this machine.

Not part of `make bench`, and nothing here is a dependency of Encore: it needs Debian's
`redis-server` and, in a separate virtualenv, `pip install procrastinate "dramatiq[redis]"
"celery[redis]" "psycopg[binary]"`. Run from the repository root with that virtualenv's python:

    /tmp/qvenv/bin/python benchmarks/queue_choice.py

It starts a throwaway PostgreSQL cluster (as the tests do) and a throwaway redis-server on
loopback ports, and for each queue, with two worker processes of one job at a time each:

* `enqueue_ms_p50/p99`: 300 enqueues from the submitting process, one at a time;
* `noop_jobs_per_s`: 1000 jobs that only append a line to a file, enqueue to last done;
* `sigkill_to_rerun_s`: a 3 s job; its worker process (group) is SIGKILLed once the job has
  started; how long until the other worker starts it again, and `runs`, how often it started.

Each queue is set up for the fastest redelivery it offers: procrastinate with a 1 s heartbeat
and a sweep every second that retries jobs of workers silent for 3 s (what server/queue.py
does, with 30 s by default); Dramatiq's Redis broker with a 3 s heartbeat timeout and
maintenance on every fetch; Celery with late acks, reject-on-worker-lost and a 5 s visibility
timeout. Prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = Path(os.environ.get("QUEUE_CHOICE_OUT", "/tmp/queue-choice.log"))
PG = os.environ.get("QUEUE_CHOICE_PG", "")
REDIS = os.environ.get("QUEUE_CHOICE_REDIS", "")


def record(kind: str, n: int) -> None:
    with OUT.open("a") as f:
        f.write(f"{kind} {n} {os.getpid()} {time.time()}\n")


def noop(n: int) -> None:
    record("noop", n)


def sleepy(n: int) -> None:
    record("start", n)
    time.sleep(3)
    record("done", n)


# -- the three queues, each with a no-op task and a slow one -----------------------------------


def procrastinate_app():  # type: ignore[no-untyped-def]
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=PG))
    app.task(name="noop", queue="q")(noop)
    app.task(name="sleepy", queue="q")(sleepy)
    return app


def procrastinate_worker() -> None:
    import asyncio

    app = procrastinate_app()

    async def retry_stalled() -> None:
        while True:
            await asyncio.sleep(1)
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=3):
                with contextlib.suppress(Exception):  # the other worker retried it first
                    await app.job_manager.retry_job(job)

    async def main() -> None:
        async with app.open_async():
            sweeper = asyncio.create_task(retry_stalled())
            try:
                await app.run_worker_async(
                    queues=["q"],
                    concurrency=1,
                    update_heartbeat_interval=1,
                    stalled_worker_timeout=3,
                    fetch_job_polling_interval=1,
                )
            finally:
                sweeper.cancel()

    asyncio.run(main())


def dramatiq_actors():  # type: ignore[no-untyped-def]
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=REDIS, heartbeat_timeout=3000, maintenance_chance=100000))
    fast = dramatiq.actor(queue_name="q", actor_name="noop")(noop)
    slow = dramatiq.actor(queue_name="q", actor_name="sleepy", time_limit=600000)(sleepy)
    return fast, slow


def celery_app():  # type: ignore[no-untyped-def]
    from celery import Celery

    app = Celery("queue_choice", broker=REDIS)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": 5},
        task_default_queue="q",
    )
    app.task(name="noop")(noop)
    app.task(name="sleepy")(sleepy)
    return app


def worker_main(kind: str) -> None:
    if kind == "procrastinate":
        procrastinate_worker()
    elif kind == "dramatiq":
        from dramatiq import Worker, get_broker

        dramatiq_actors()
        worker = Worker(get_broker(), queues={"q"}, worker_threads=1)
        worker.start()
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        worker.stop()
    else:
        quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        celery_app().worker_main(["worker", "-P", "solo", "-c", "1", "-Q", "q", *quiet])


# -- the driver -------------------------------------------------------------------------------


def _lines() -> list[list[str]]:
    try:
        return [line.split() for line in OUT.read_text().splitlines()]
    except FileNotFoundError:
        return []


def _wait(predicate, timeout: float = 300.0) -> float:  # type: ignore[no-untyped-def]
    start = time.time()
    while time.time() - start < timeout:
        if predicate(_lines()):
            return time.time()
        time.sleep(0.005)
    raise SystemExit("timed out")


def measure(kind: str) -> dict:
    if kind == "procrastinate":
        app = procrastinate_app().open()
        send = lambda n: app.tasks["noop"].defer(n=n)  # noqa: E731
        slow = lambda n: app.tasks["sleepy"].defer(n=n)  # noqa: E731
    elif kind == "dramatiq":
        noop, sleepy_actor = dramatiq_actors()
        send, slow = noop.send, sleepy_actor.send
    else:
        app = celery_app()
        send = lambda n: app.send_task("noop", args=[n])  # noqa: E731
        slow = lambda n: app.send_task("sleepy", args=[n])  # noqa: E731
    OUT.unlink(missing_ok=True)
    env = {**os.environ, "QUEUE_CHOICE_PG": PG, "QUEUE_CHOICE_REDIS": REDIS}
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", kind],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        send(-1)
        _wait(lambda ls: any(x[:2] == ["noop", "-1"] for x in ls), 60)
        latency = []
        for n in range(300):
            t = time.perf_counter()
            send(n)
            latency.append((time.perf_counter() - t) * 1000)
        _wait(lambda ls: sum(x[0] == "noop" for x in ls) >= 301)
        OUT.unlink()
        t0 = time.time()
        for n in range(1000):
            send(n)
        noop_rate = 1000 / (_wait(lambda ls: len(ls) >= 1000) - t0)
        OUT.unlink()
        slow(0)
        _wait(lambda ls: any(x[0] == "start" for x in ls))
        pid = int(next(x for x in _lines() if x[0] == "start")[2])
        victim = next(w for w in workers if os.getpgid(pid) == w.pid)
        killed_at = time.time()
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        _wait(lambda ls: any(x[0] == "done" for x in ls))
        time.sleep(5)  # any further (duplicate) run would start by now
        starts = [x for x in _lines() if x[0] == "start"]
        return {
            "enqueue_ms_p50": round(statistics.median(latency), 3),
            "enqueue_ms_p99": round(sorted(latency)[296], 3),
            "noop_jobs_per_s": round(noop_rate, 1),
            "sigkill_to_rerun_s": round(float(starts[-1][3]) - killed_at, 1),
            "runs": len(starts),
        }
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
                    w.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    global PG, REDIS
    from benchmarks.machine import machine_info
    from tests.plugins.postgres import _bin_dir, _Cluster, create_database

    bin_dir, redis_bin = _bin_dir(), shutil.which("redis-server")
    if bin_dir is None or redis_bin is None:
        raise SystemExit("needs Debian's postgresql and redis-server")
    cluster = _Cluster(bin_dir)
    problem = cluster.start()
    if problem:
        raise SystemExit(problem)
    redis_dir = Path(tempfile.mkdtemp(prefix="queue-choice-redis-"))
    port = _free_port()
    redis = subprocess.Popen(
        [redis_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir",
         str(redis_dir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    load_before = list(os.getloadavg())
    results = {}
    try:
        PG = create_database(cluster.url).replace("postgresql+psycopg://", "postgresql://")
        REDIS = f"redis://127.0.0.1:{port}/0"
        with procrastinate_app().open() as app:
            app.schema_manager.apply_schema()
        for kind in ("procrastinate", "dramatiq", "celery"):
            print(f"{kind} ...", file=sys.stderr, flush=True)
            results[kind] = measure(kind)
            print(f"  {results[kind]}", file=sys.stderr, flush=True)
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(redis_dir, ignore_errors=True)
        cluster.stop()
    print(
        json.dumps(
            {
                "benchmark": "queue_choice",
                "queues": results,
                "machine": machine_info(),
                "load_before": load_before,
                "load_after": list(os.getloadavg()),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[2])
    else:
        main()
