"""Platform settings: one dataclass built by the CLI (or a test) and handed to `create_app`.

Settings are passed explicitly rather than read from globals so that two platforms with different
settings (e.g. a short access TTL) can run side by side in tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from server.clock import Clock, make_clock

DEMO_CACHE_ENV = "ENCORE_DEMO_CACHE"
# Demo mode also seeds other fans' published remixes (server/demo_remixes.py) unless this is 0:
# the test suite's platforms start without them (tests count their own remixes).
DEMO_REMIXES_ENV = "ENCORE_DEMO_REMIXES"
DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 30 * 24 * 3600
DEFAULT_DAILY_QUOTA = 20  # remix submissions per user per UTC day
DEFAULT_PLATFORM_SHARE_BP = 1500  # the platform's share of each remix's revenue: 15.00 %
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # request bodies are recipes and forms: 1 MiB is plenty

# Sign-in throttling (server/throttle.py). Failed attempts only: a person who types their password
# right is never slowed down. Per account: enough for typos, far too few for guessing. Per client
# address: generous, since many people may share one address (a household, a campus NAT).
# Operators tune them through the environment (the variable names below); tests use that too.
SIGNIN_ACCOUNT_FAILURES_ENV = "ENCORE_SIGNIN_ACCOUNT_FAILURES"
SIGNIN_ADDRESS_FAILURES_ENV = "ENCORE_SIGNIN_ADDRESS_FAILURES"
SIGNIN_WINDOW_ENV = "ENCORE_SIGNIN_WINDOW"
HASH_QUEUE_ENV = "ENCORE_HASH_QUEUE"
DEFAULT_SIGNIN_ACCOUNT_FAILURES = 10
DEFAULT_SIGNIN_ADDRESS_FAILURES = 100
DEFAULT_SIGNIN_WINDOW = 15 * 60  # seconds a failed attempt counts
# Password hashing (argon2, 64 MiB per hash): at most one hash per core at a time, and at most
# this many sign-ins waiting for one; more are answered 503 at once instead of queueing memory.
DEFAULT_HASH_QUEUE = 16
MAX_IN_FLIGHT_ENV = "ENCORE_MAX_IN_FLIGHT"
DEFAULT_MAX_IN_FLIGHT = 32  # requests inside the API at once = database connections they use
WORK_IN_FLIGHT_ENV = "ENCORE_WORK_IN_FLIGHT"
# Of those, requests other than catalog, track detail, /me and stem reads (server/admission.py):
# CPU-bound in one process, so a few at a time keep the others quick at no cost in throughput.
DEFAULT_WORK_IN_FLIGHT = 4
REQUEST_THREADS_ENV = "ENCORE_REQUEST_THREADS"
# Threads running request code at once (server/threads.py): Python runs one at a time per
# process, so more only take the interpreter from the event loop that accepts connections.
DEFAULT_REQUEST_THREADS = 2
ADMISSION_WAIT_ENV = "ENCORE_ADMISSION_WAIT"
DEFAULT_ADMISSION_WAIT = 3.0  # seconds a request waits to get in before a 503 + Retry-After
DELIVERY_TRACKS_ENV = "ENCORE_DELIVERY_TRACKS_PER_HOUR"
DEFAULT_DELIVERY_TRACKS = 30  # different tracks' stems one account streams per hour
DEFAULT_HASH_WAIT = 10.0  # seconds a sign-in waits for a hashing slot before a 503

# Renders (server/queue.py, server/worker.py, server/render_limits.py). Operators tune them
# through the environment; every worker and API process of one platform should agree.
RENDER_ATTEMPTS_ENV = "ENCORE_RENDER_ATTEMPTS"
DEFAULT_RENDER_ATTEMPTS = 3  # tries of one remix (a crashed worker counts) before a rejection
RENDERS_PER_USER_ENV = "ENCORE_RENDERS_PER_USER"
DEFAULT_RENDERS_PER_USER = 1  # one fan's renders running at once, however many workers
MAX_RENDER_SECONDS_ENV = "ENCORE_MAX_RENDER_SECONDS"
DEFAULT_MAX_RENDER_SECONDS = 900.0  # a rendered remix lasts at most 15 minutes
MAX_RENDER_MB_ENV = "ENCORE_MAX_RENDER_MB"
DEFAULT_MAX_RENDER_MB = 4096.0  # one render's memory over an idle worker (render_limits.py)
WORKER_STALLED_ENV = "ENCORE_WORKER_STALLED_AFTER"
DEFAULT_WORKER_STALLED_AFTER = 30.0  # seconds without a heartbeat: the worker is dead
STORAGE_DIR_ENV = "ENCORE_STORAGE_DIR"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else default


def env_flag(name: str, default: bool) -> bool:
    """A yes/no setting: 0/false/no/off or 1/true/yes/on; unset or anything else: `default`."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return default


def env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def default_hash_slots() -> int:
    """One argon2 hash per core: more only adds memory (64 MiB each), not throughput."""
    return max(2, os.cpu_count() or 2)


def default_data_dir() -> Path:
    """Where a platform keeps its database and audio when no --data-dir is given."""
    return Path(user_data_dir("encore")) / "platform"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_ttl: int = DEFAULT_REFRESH_TTL
    demo: bool = False
    demo_cache_dir: Path | None = None
    demo_remixes: bool = field(default_factory=lambda: env_flag(DEMO_REMIXES_ENV, True))
    run_worker: bool = True
    daily_quota: int = DEFAULT_DAILY_QUOTA
    platform_share_bp: int = DEFAULT_PLATFORM_SHARE_BP
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    signin_account_failures: int = field(
        default_factory=lambda: _env_int(
            SIGNIN_ACCOUNT_FAILURES_ENV, DEFAULT_SIGNIN_ACCOUNT_FAILURES
        )
    )
    signin_address_failures: int = field(
        default_factory=lambda: _env_int(
            SIGNIN_ADDRESS_FAILURES_ENV, DEFAULT_SIGNIN_ADDRESS_FAILURES
        )
    )
    signin_window: int = field(
        default_factory=lambda: _env_int(SIGNIN_WINDOW_ENV, DEFAULT_SIGNIN_WINDOW)
    )
    hash_slots: int = field(default_factory=default_hash_slots)
    hash_queue: int = field(default_factory=lambda: _env_int(HASH_QUEUE_ENV, DEFAULT_HASH_QUEUE))
    hash_wait: float = DEFAULT_HASH_WAIT
    max_in_flight: int = field(
        default_factory=lambda: _env_int(MAX_IN_FLIGHT_ENV, DEFAULT_MAX_IN_FLIGHT)
    )
    work_in_flight: int = field(
        default_factory=lambda: _env_int(WORK_IN_FLIGHT_ENV, DEFAULT_WORK_IN_FLIGHT)
    )
    request_threads: int = field(
        default_factory=lambda: _env_int(REQUEST_THREADS_ENV, DEFAULT_REQUEST_THREADS)
    )
    admission_wait: float = field(
        default_factory=lambda: float(os.environ.get(ADMISSION_WAIT_ENV, DEFAULT_ADMISSION_WAIT))
    )
    delivery_tracks_per_hour: int = field(
        default_factory=lambda: _env_int(DELIVERY_TRACKS_ENV, DEFAULT_DELIVERY_TRACKS)
    )
    # Stems and renders (server/storage.py): the data dir unless every process of a platform
    # spread over several machines shares another directory (a network mount).
    storage_dir: Path | None = field(default_factory=lambda: _env_path(STORAGE_DIR_ENV))
    render_attempts: int = field(
        default_factory=lambda: max(1, _env_int(RENDER_ATTEMPTS_ENV, DEFAULT_RENDER_ATTEMPTS))
    )
    renders_per_user: int = field(
        default_factory=lambda: max(1, _env_int(RENDERS_PER_USER_ENV, DEFAULT_RENDERS_PER_USER))
    )
    worker_stalled_after: float = field(
        default_factory=lambda: env_float(WORKER_STALLED_ENV, DEFAULT_WORKER_STALLED_AFTER)
    )
    # Tests and QA only (`--test-clock`): time is the real time plus an offset the test writes
    # into the data dir (server/clock.py). Never set on a production platform.
    test_clock: bool = False
    # A clock given by an in-process test (server.clock.ManualClock); None: built from the above.
    clock: Clock | None = field(default=None, compare=False, repr=False)

    def make_clock(self) -> Clock:
        """The clock every time-of-day rule of this process reads (server/clock.py)."""
        return self.clock if self.clock is not None else make_clock(self.data_dir, self.test_clock)

    @property
    def db_url(self) -> str:
        """A SQLAlchemy URL: SQLite in the data dir unless a server database was configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'platform.sqlite3').resolve()}"

    @property
    def storage_root(self) -> Path:
        """Where stems, renders and the platform secret live (shared by every process)."""
        return self.storage_dir if self.storage_dir is not None else self.data_dir

    @property
    def is_sqlite(self) -> bool:
        """SQLite: one process renders in a thread; otherwise a queue that workers share."""
        return self.db_url.startswith("sqlite")

    @property
    def demo_cache(self) -> Path:
        """The composed demo music is expensive, so tests share one cache via the environment."""
        env = os.environ.get(DEMO_CACHE_ENV)
        if env:
            return Path(env)
        if self.demo_cache_dir is not None:
            return self.demo_cache_dir
        return self.data_dir / "demo-catalog"
