"""Load on the platform: many clients at once, over loopback, bounded in requests and time.

Starts its own platform in a temporary data dir: by default the embedded one (SQLite, one API
process, as `make run` does); with `--processes N` the README's scale-out mode (a throwaway
PostgreSQL cluster and N API processes sharing it, clients spread over them). Creates a pool of
Superfan accounts, signs them in, then runs N concurrent clients, each doing a fixed mix of
requests per round: catalog, track detail, a stem Range read, a remix check (the same work as a
submission up to storing it: no renders run) and /me. Sign-ins are timed separately.

The user model is part of the result: `--think 0` (the default) is a closed loop, every client
sending its next request the moment the last answer arrives, which measures queueing at
saturation; `--think S` waits an exponential think time of mean S before each request (people
reading between clicks); `--revalidate` sends the last ETag of catalog and detail back. Either
way a client told 503 + Retry-After waits that long before its next request (the request told
so is counted as shed, not retried).

Prints one JSON line per concurrency level: requests per second, p50/p99 per endpoint, status
counts (5xx split into 503s with Retry-After, the platform shedding load on purpose, and
everything else), the CPU the platform and the clients used (both run on this machine), and
the load average.

    PYTHONPATH=. .venv/bin/python benchmarks/load.py --clients 50 200 500
    PYTHONPATH=. .venv/bin/python benchmarks/load.py --clients 500 --think 5 --rounds 4
    PYTHONPATH=. .venv/bin/python benchmarks/load.py --clients 500 --processes 2

Loopback only; every level is bounded (each client makes `--rounds` rounds, then stops).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from app.embedded import start_platform
from benchmarks.machine import machine_info

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password"
ENV = {
    "ENCORE_DELIVERY_TRACKS_PER_HOUR": "1000",  # 500 clients share 20 accounts
    "ENCORE_DEMO_CACHE": str(REPO / ".cache" / "demo-catalog"),  # composed once per machine
    "ENCORE_DEMO_REMIXES": "0",  # no background renders competing with the load
}


@dataclass
class Deployment:
    """The platform under load: its API processes' URLs and pids, and how to stop it."""

    urls: list[str]
    pids: list[int]
    database: str
    db_url: str = ""
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def create_users(db_url: str, count: int) -> list[str]:
    """`count` Superfan accounts sharing one password (hashed once), written to the database."""
    from core.contract import Role, Tier
    from server.db import make_engine, make_sessionmaker
    from server.demo import ensure_user
    from server.security import hash_password

    hashed = hash_password(PASSWORD)
    engine = make_engine(db_url, requests_in_flight=2)
    names = [f"load{i:03d}" for i in range(count)]
    with make_sessionmaker(engine)() as db:
        for name in names:
            ensure_user(
                db,
                name,
                PASSWORD,
                display_name=name,
                tier=Tier.SUPERFAN,
                roles=[Role.FAN],
                password_hash=lambda: hashed,
            )
        db.commit()
    engine.dispose()
    return names


def one_process(root: Path) -> Deployment:
    """The embedded default: one API process on SQLite, rendering in a thread of its own."""
    from server.config import Settings

    proc = start_platform(root / "platform", env=ENV)
    db_url = Settings(data_dir=root / "platform").db_url
    return Deployment([proc.url], [proc.process.pid], "sqlite", db_url, [proc.stop])


PG_MAX_CONNECTIONS = 60  # tests/plugins/postgres.py's cluster


def in_flight_for(processes: int) -> int:
    """Requests in flight per API process that fit the cluster's connections (4 for us)."""
    return max(4, min(32, (PG_MAX_CONNECTIONS - 4) // processes - 8))


def scaled_out(root: Path, processes: int) -> Deployment:
    """The README's scale-out mode: PostgreSQL and `processes` API processes sharing it and one
    storage directory (no render workers: the load submits checks, not renders)."""
    from server.db import init_db, make_engine, make_sessionmaker
    from server.demo import seed_demo
    from server.storage import Storage
    from tests.plugins.postgres import create_database, start_cluster

    cluster = start_cluster()
    deployment = Deployment([], [], "postgresql", stops=[cluster.stop])
    try:
        db_url = deployment.db_url = create_database(cluster.url)
        storage = root / "storage"
        engine = make_engine(db_url, requests_in_flight=2)
        init_db(engine)
        with make_sessionmaker(engine)() as db:
            seed_demo(db, Storage(storage), Path(ENV["ENCORE_DEMO_CACHE"]))
        engine.dispose()
        args = ["--database-url", db_url, "--storage-dir", str(storage), "--no-worker"]
        # The throwaway cluster allows 60 connections; each API process keeps one per request
        # in flight plus 8 spare (server/db.py): the README's max_connections rule, kept here.
        env = ENV | {"ENCORE_MAX_IN_FLIGHT": str(in_flight_for(processes))}
        for i in range(processes):
            proc = start_platform(root / f"api{i}", demo=False, extra_args=args, env=env)
            deployment.urls.append(proc.url)
            deployment.pids.append(proc.process.pid)
            deployment.stops.append(proc.stop)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def sign_in(url: str, name: str, session: requests.Session) -> str:
    """Sign in as a well-behaved client does: on a 429/503, wait Retry-After and try again."""
    for _ in range(60):
        resp = session.post(
            f"{url}/v1/auth/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD},
            timeout=60,
        )
        if resp.status_code == 200:
            return resp.json()["access_token"]
        time.sleep(float(resp.headers.get("Retry-After", "1")))
    raise RuntimeError(f"{name} could not sign in")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()

    def call(self, endpoint: str, session: requests.Session, method: str, url: str, **kw):
        start = time.perf_counter()
        try:
            resp = session.request(method, url, timeout=120, **kw)
            status = str(resp.status_code)
            if resp.status_code == 503 and "retry-after" in resp.headers:
                status = "503+Retry-After"
        except requests.RequestException as exc:
            resp, status = None, f"error:{type(exc).__name__}"
        elapsed = time.perf_counter() - start
        with self.lock:
            self.times[endpoint].append(elapsed)
            self.statuses[status] += 1
        if status == "503+Retry-After":
            # As a well-behaved client (and sign_in above): come back when told, not at once.
            time.sleep(float(resp.headers["retry-after"]))  # type: ignore[union-attr]
        return resp


@dataclass(frozen=True)
class UserModel:
    """How each client behaves. think_s = 0: a closed loop (the next request the moment the
    last answer arrives), which measures queueing at saturation, not what a person sees; a mean
    think time (exponential, before every request) models people reading between clicks.
    revalidate: send the ETag of the last catalog/detail answer back (an HTTP cache's 304s)."""

    think_s: float = 0.0
    revalidate: bool = False


def client_rounds(
    url: str,
    token: str,
    track: dict,
    doc: dict,
    rounds: int,
    rec: Recorder,
    go: threading.Event,
    *,
    model: UserModel,
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    stem = track["stems"][0]["id"]
    etags: dict[str, str] = {}
    rng = random.Random()

    def get_cached(endpoint: str, path: str) -> None:
        headers = {"If-None-Match": etags[path]} if model.revalidate and path in etags else {}
        think()
        resp = rec.call(endpoint, session, "GET", f"{url}{path}", headers=headers)
        if resp is not None and "etag" in resp.headers:
            etags[path] = resp.headers["etag"]

    def think() -> None:
        if model.think_s > 0:
            time.sleep(rng.expovariate(1.0 / model.think_s))

    go.wait()
    for round_ in range(rounds):
        # A client's first request opens its connection, in a burst with every other client's.
        get_cached("catalog_first" if round_ == 0 else "catalog", "/v1/tracks")
        get_cached("detail", f"/v1/tracks/{track['id']}")
        think()
        rec.call(
            "stem_range",
            session,
            "GET",
            f"{url}/v1/tracks/{track['id']}/stems/{stem}/audio",
            headers={"Range": "bytes=0-262143"},
        )
        think()
        rec.call("remix_check", session, "POST", f"{url}/v1/remixes/check", json=doc)
        think()
        rec.call("me", session, "GET", f"{url}/v1/me")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_process(
    urls: list[str],
    tokens: list[str],
    track: dict,
    doc: dict,
    rounds: int,
    model: UserModel,
    indices: list[int],
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """One load-generating process: a thread per client in `indices`; results go to `out`."""
    rec = Recorder()
    start = threading.Event()
    threads = [
        threading.Thread(  # clients spread over the API processes (a load balancer's job)
            target=client_rounds,
            args=(urls[i % len(urls)], tokens[i % len(tokens)], track, doc, rounds, rec, start),
            kwargs={"model": model},
            daemon=True,
        )
        for i in indices
    ]
    for t in threads:
        t.start()
    cpu = own_cpu_seconds()
    ready.put(os.getpid())
    go.wait()
    start.set()
    for t in threads:
        t.join()
    out.put((dict(rec.times), dict(rec.statuses), own_cpu_seconds() - cpu))


def run_level(
    deployment: Deployment,
    tokens: list[str],
    clients: int,
    rounds: int,
    model: UserModel,
    client_processes: int,
) -> dict:
    url = deployment.urls[0]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tokens[0]}"
    first = session.get(f"{url}/v1/tracks", timeout=30).json()["tracks"][0]["id"]
    track = session.get(f"{url}/v1/tracks/{first}", timeout=30).json()
    doc = {
        "format": "encore.remix/1",
        "track_id": track["id"],
        "track_version": track["version"],
        "title": "Load",
        "stems": {track["stems"][0]["id"]: {"gain_db": -6.0}},
    }
    # Clients in several processes: 500 threads in one Python process wait for its GIL, and
    # that wait would be counted as the platform's latency.
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                deployment.urls,
                tokens,
                track,
                doc,
                rounds,
                model,
                list(range(k, clients, client_processes)),
                ready,
                go,
                out,
            ),
            daemon=True,
        )
        for k in range(client_processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    server_cpu = sum(cpu_seconds(pid) for pid in deployment.pids)
    start = time.perf_counter()
    go.set()
    rec = Recorder()
    client_cpu = 0.0
    for _ in procs:
        times, statuses, cpu = out.get()
        for name, values in times.items():
            rec.times[name].extend(values)
        rec.statuses.update(statuses)
        client_cpu += cpu
    wall = time.perf_counter() - start
    server_cpu = sum(cpu_seconds(pid) for pid in deployment.pids) - server_cpu
    for p in procs:
        p.join()
    total = sum(rec.statuses.values())
    urls = deployment.urls
    health = [requests.get(f"{u}/v1/health", timeout=30).status_code for u in urls]
    return {
        "clients": clients,
        "api_processes": len(urls),
        "max_in_flight_each": (
            in_flight_for(len(urls))
            if len(urls) > 1
            else int(os.environ.get("ENCORE_MAX_IN_FLIGHT", "32"))
        ),
        "database": deployment.database,
        "think_s_mean": model.think_s,
        "revalidate": model.revalidate,
        "requests": total,
        "seconds": round(wall, 2),
        "req_per_s": round(total / wall, 1),
        "statuses": dict(rec.statuses),
        "5xx": sum(n for s, n in rec.statuses.items() if s.startswith("5") and "Retry" not in s),
        "shed_503": rec.statuses.get("503+Retry-After", 0),
        "latency_s": {
            name: {
                "p50": round(statistics.median(v), 3),
                "p99": round(percentile(v, 0.99), 3),
                "max": round(max(v), 3),
            }
            for name, v in sorted(rec.times.items())
        },
        "health_after": health,
        # Both run on this machine: the clients' own CPU is CPU the platform did not get.
        "platform_cpu_ms_per_request": round(1000 * server_cpu / max(1, total), 2),
        "platform_cpu_s": round(server_cpu, 1),
        "clients_cpu_s": round(client_cpu, 1),
        "client_processes": client_processes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--rounds", type=int, default=2, help="request rounds per client")
    parser.add_argument("--accounts", type=int, default=20, help="accounts the clients share")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="1: the embedded default (SQLite, one process); more: that many API processes "
        "on PostgreSQL (the README's scale-out mode)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="mean think time before each request (exponential); 0: a closed loop",
    )
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="clients send the last ETag of the catalog and detail back (If-None-Match)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="processes the clients' threads are spread over (default: %(default)s)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        default=None,
        help="profile the (first) API process with py-spy while the levels run (collapsed "
        "stacks of the thread holding the GIL)",
    )
    args = parser.parse_args()
    model = UserModel(think_s=args.think, revalidate=args.revalidate)
    with tempfile.TemporaryDirectory(prefix="encore-load-") as tmp:
        root = Path(tmp)
        many = args.processes > 1
        deployment = scaled_out(root, args.processes) if many else one_process(root)
        try:
            names = create_users(deployment.db_url, args.accounts)
            signing = time.perf_counter()
            tokens = [sign_in(deployment.urls[0], n, requests.Session()) for n in names]
            sign_in_s = (time.perf_counter() - signing) / len(names)
            spy = None
            if args.py_spy:
                spy_exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                spy = subprocess.Popen(
                    [spy_exe, "record", "--pid", str(deployment.pids[0]), "--format", "raw",
                     "--rate", "100", "--gil", "-o", args.py_spy],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1.0)
            for clients in args.clients:
                load_before = os.getloadavg()[0]
                result = run_level(
                    deployment, tokens, clients, args.rounds, model, args.client_processes
                )
                result["loadavg_before"] = round(load_before, 2)
                result["sign_in_s_each"] = round(sign_in_s, 3)
                result["machine"] = machine_info()
                print(json.dumps(result), flush=True)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                spy.wait(timeout=60)
        finally:
            deployment.stop()


if __name__ == "__main__":
    main()
