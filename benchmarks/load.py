"""Load on the platform: many clients at once, over loopback, bounded in requests and time.

Starts its own demo platform (SQLite, one process, as `make run` does) in a temporary data dir,
signs a pool of Superfan accounts in, then runs N concurrent clients, each doing a fixed mix of
requests: catalog, track detail, a stem Range read and a remix check (the same work as a
submission up to storing it), plus sign-ins. Prints one JSON line per concurrency level:
requests per second, p50/p99 per endpoint, and the status counts (5xx split into 503s that came
with Retry-After — the platform shedding load on purpose — and everything else).

    PYTHONPATH=. .venv/bin/python benchmarks/load.py --clients 50 200 500

Loopback only; every level is bounded (each client makes `--rounds` rounds, then stops).
"""

from __future__ import annotations

import argparse
import json
import os
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
from pathlib import Path

import requests

from app.embedded import start_platform
from benchmarks.machine import machine_info

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password"


def create_users(url: str, data_dir: Path, count: int) -> list[str]:
    names = [f"load{i:03d}" for i in range(count)]
    for name in names:
        cmd = [sys.executable, "-m", "server.cli", "create-user", name, "--tier", "superfan"]
        subprocess.run(
            [*cmd, "--password", PASSWORD, "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
            cwd=REPO,
        )
    return names


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
        return resp


def client_rounds(
    url: str, token: str, track: dict, doc: dict, rounds: int, rec: Recorder, go: threading.Event
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    stem = track["stems"][0]["id"]
    go.wait()
    for _ in range(rounds):
        rec.call("catalog", session, "GET", f"{url}/v1/tracks")
        rec.call("detail", session, "GET", f"{url}/v1/tracks/{track['id']}")
        rec.call(
            "stem_range",
            session,
            "GET",
            f"{url}/v1/tracks/{track['id']}/stems/{stem}/audio",
            headers={"Range": "bytes=0-262143"},
        )
        rec.call("remix_check", session, "POST", f"{url}/v1/remixes/check", json=doc)
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


def run_level(url: str, pid: int, tokens: list[str], clients: int, rounds: int) -> dict:
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
    rec = Recorder()
    go = threading.Event()
    threads = [
        threading.Thread(
            target=client_rounds,
            args=(url, tokens[i % len(tokens)], track, doc, rounds, rec, go),
            daemon=True,
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    server_cpu, client_cpu = cpu_seconds(pid), own_cpu_seconds()
    start = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, own_cpu_seconds() - client_cpu
    total = sum(rec.statuses.values())
    health = requests.get(f"{url}/v1/health", timeout=30)
    return {
        "clients": clients,
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
        "health_after": health.status_code,
        # Both run on this machine: the clients' own CPU is CPU the platform did not get.
        "platform_cpu_ms_per_request": round(1000 * server_cpu / max(1, total), 2),
        "platform_cpu_s": round(server_cpu, 1),
        "clients_cpu_s": round(client_cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--rounds", type=int, default=2, help="request rounds per client")
    parser.add_argument("--accounts", type=int, default=20, help="accounts the clients share")
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        default=None,
        help="profile the platform process with py-spy while the levels run (collapsed stacks)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        proc = start_platform(data_dir, env={"ENCORE_DELIVERY_TRACKS_PER_HOUR": "1000"})
        try:
            names = create_users(proc.url, data_dir, args.accounts)
            signing = time.perf_counter()
            tokens = [sign_in(proc.url, n, requests.Session()) for n in names]
            sign_in_s = (time.perf_counter() - signing) / len(names)
            spy = None
            if args.py_spy:
                spy_exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                spy = subprocess.Popen(
                    [spy_exe, "record", "--pid", str(proc.process.pid), "--format", "raw",
                     "--rate", "100", "--gil", "-o", args.py_spy],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1.0)
            for clients in args.clients:
                result = run_level(proc.url, proc.process.pid, tokens, clients, args.rounds)
                result["sign_in_s_each"] = round(sign_in_s, 3)
                result["machine"] = machine_info()
                print(json.dumps(result), flush=True)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                spy.wait(timeout=60)
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
