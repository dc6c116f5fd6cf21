"""A throwaway PostgreSQL cluster for the test session (`postgres_url`), torn down at the end.

The server binaries come from Debian's `postgresql` package (scripts/bootstrap.sh installs it).
PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user:
its directory lives directly under /tmp (pytest's own temp dirs are private to root) and every
server command runs as that user. It listens on 127.0.0.1 on a free port,
with durability switched off (fsync, synchronous commit): a test cluster, not a database. The
postmaster is this process's child and dies with it, even when the run is killed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["create_database", "postgres_url"]


def _bin_dir() -> Path | None:
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    return Path(versions[-1]) if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="encore-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.as_postgres: list[str] = []
        self.server: subprocess.Popen | None = None
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, *args], capture_output=True, text=True, timeout=60, cwd=self.root
        )

    def start(self) -> str | None:
        """None on success, else why the cluster could not start."""
        done = self.run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            return f"initdb failed: {done.stderr.strip()[-500:]}"
        self.server = subprocess.Popen(
            [
                *self._postmaster_prefix(),
                str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
                "-p", str(self.port), "-k", str(self.root), "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=60",
            ],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, cwd=self.root,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.server.poll() is None:
            if self.run(str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1",
                        "-p", str(self.port)).returncode == 0:  # fmt: skip
                return None
            time.sleep(0.1)
        log = self.log.read_text() if self.log.exists() else ""
        return f"postgres did not start: {log[-500:]}"

    def _postmaster_prefix(self) -> list[str]:
        """setpriv execs (no fork between us and the postmaster), drops to the postgres user when
        we are root, and asks the kernel to stop the postmaster when this test process dies
        however it dies: no cluster outlives its run (pg_ctl would have daemonised it)."""
        user = ["--reuid=postgres", "--regid=postgres", "--init-groups"] if self.as_postgres else []
        return ["setpriv", *user, "--pdeathsig", "TERM", "--"]

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGQUIT)  # immediate shutdown: a throwaway cluster
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The server URL (no database): `create_database(postgres_url)` makes a fresh one."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed: run scripts/bootstrap.sh (Debian package 'postgresql')"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot run as root")
    cluster = _Cluster(bin_dir)
    try:
        problem = cluster.start()
        if problem is not None:
            pytest.fail(f"PostgreSQL is installed but would not start: {problem}")
        yield cluster.url
    finally:
        cluster.stop()


def start_cluster() -> _Cluster:
    """A throwaway PostgreSQL cluster for a benchmark (the tests use the fixture above); the
    caller stops it. Exits with what to do when PostgreSQL is missing or will not start."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed: run scripts/bootstrap.sh")
    cluster = _Cluster(bin_dir)
    problem = cluster.start()
    if problem:
        raise SystemExit(problem)
    return cluster


def create_database(server_url: str) -> str:
    """A new empty database on the test cluster; returns its SQLAlchemy URL."""
    import psycopg

    name = f"encore_{uuid.uuid4().hex[:12]}"
    conninfo = server_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
