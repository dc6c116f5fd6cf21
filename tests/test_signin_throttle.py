"""Sign-in throttling, bounded password hashing and private data files (issue 10, item 4).

The throttle's rules are tested directly with a fake clock (no sleeping); the HTTP behaviour on
platform processes of their own, with small limits set through the environment (so that a
lock-out here never touches the session platform the other tests sign in to).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from app.embedded import PlatformProcess, start_platform
from server.config import (
    HASH_QUEUE_ENV,
    SIGNIN_ACCOUNT_FAILURES_ENV,
    SIGNIN_ADDRESS_FAILURES_ENV,
    SIGNIN_WINDOW_ENV,
)
from server.throttle import ACCOUNT, ADDRESS, SignInThrottle, Throttled
from tests.platform_helpers import PASSWORD, assert_error
from tests.plugins.platform import REPO

# -- the throttle itself ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: SignInThrottle, user: str, address: str = "10.0.0.1") -> None:
    throttle.admit(user, address)  # and never `succeeded`: a wrong password


def test_an_account_is_locked_after_its_failures_and_freed_by_time():
    clock = Clock()
    throttle = SignInThrottle(3, 100, 60, clock=clock)
    for _ in range(3):
        fail(throttle, "fan")
        clock.now += 1
    with pytest.raises(Throttled) as caught:
        throttle.admit("fan", "10.0.0.2")  # another address: the account is what is locked
    assert caught.value.scope == ACCOUNT
    assert caught.value.retry_after == 57  # until the first failure (at 0 s; now 3 s) is 60 s old
    throttle.admit("casual", "10.0.0.1")  # other accounts are not affected
    clock.now += 57
    throttle.admit("fan", "10.0.0.1")


def test_unknown_and_known_usernames_are_throttled_alike():
    """The throttle never asks whether an account exists: a name is a name."""
    clock = Clock()
    throttle = SignInThrottle(2, 100, 60, clock=clock)
    outcomes = {}
    for name in ("fan", "no-such-user-anywhere"):
        seen = []
        for _ in range(3):
            try:
                fail(throttle, name)
                seen.append("ok")
            except Throttled as t:
                seen.append((t.scope, t.retry_after))
        outcomes[name] = seen
    assert outcomes["fan"] == outcomes["no-such-user-anywhere"] == ["ok", "ok", (ACCOUNT, 60)]


def test_a_success_clears_the_account_but_not_the_address():
    throttle = SignInThrottle(2, 3, 60, clock=Clock())
    fail(throttle, "fan")
    throttle.succeeded(throttle.admit("fan", "10.0.0.1"))
    fail(throttle, "fan")
    fail(throttle, "fan")  # two more failures: the earlier one was forgotten
    with pytest.raises(Throttled) as caught:
        throttle.admit("casual", "10.0.0.1")  # the address has its three failures
    assert caught.value.scope == ADDRESS
    throttle.admit("casual", "10.0.0.9")


def test_a_cancelled_attempt_counts_nothing():
    throttle = SignInThrottle(1, 1, 60, clock=Clock())
    throttle.cancel(throttle.admit("fan", "10.0.0.1"))
    throttle.admit("fan", "10.0.0.1")


def test_parallel_guesses_cannot_slip_past_the_limit():
    """Attempts are counted before the password is checked, so a burst gets exactly `limit`."""
    throttle = SignInThrottle(5, 1000, 60)
    admitted = []
    barrier = threading.Barrier(50)

    def guess() -> None:
        barrier.wait()
        with contextlib.suppress(Throttled):
            admitted.append(throttle.admit("fan", "10.0.0.1"))

    threads = [threading.Thread(target=guess) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 5


def test_memory_is_bounded_by_max_keys():
    throttle = SignInThrottle(3, 1_000_000, 60, max_keys=100, clock=Clock())
    for i in range(1000):
        fail(throttle, f"user{i}" * 1000)  # long names are kept as digests
    assert len(throttle._accounts.keys) == 100  # white-box: the bound is the point


# -- over HTTP ---------------------------------------------------------------------------------


def start(tmp_path: Path, **env: str) -> PlatformProcess:
    return start_platform(tmp_path / "platform", demo=False, env=env)


@pytest.fixture()
def small_limits(tmp_path) -> Iterator[PlatformProcess]:
    proc = start(
        tmp_path,
        **{SIGNIN_ACCOUNT_FAILURES_ENV: "3", SIGNIN_ADDRESS_FAILURES_ENV: "8"},
        **{SIGNIN_WINDOW_ENV: "600"},
    )
    try:
        yield proc
    finally:
        proc.stop()


def add_user(proc: PlatformProcess) -> str:
    username = f"t-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "server.cli", "create-user", username, "--tier", "superfan"]
    cmd += ["--password", PASSWORD, "--data-dir", str(proc.data_dir)]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, timeout=60)
    return username


def sign_in(proc: PlatformProcess, username: str, password: str) -> requests.Response:
    form = {"username": username, "password": password}
    return requests.post(f"{proc.url}/v1/auth/token", data=form, timeout=60)


def test_failed_sign_ins_lock_the_username_alike_for_real_and_unknown_accounts(small_limits):
    real = add_user(small_limits)
    answers = {}
    for username in (real, f"nobody-{uuid.uuid4().hex[:6]}"):
        statuses = [sign_in(small_limits, username, "wrong").status_code for _ in range(3)]
        locked = sign_in(small_limits, username, PASSWORD)  # even the right password now
        message = assert_error(locked, 429, "too_many_sign_ins")
        retry_after = int(locked.headers["Retry-After"])
        assert 0 < retry_after <= 600
        assert "Wait" in message and "try again" in message
        answers[username] = (statuses, re.sub(r"\d+", "N", message))
    assert answers[real] == answers[next(u for u in answers if u != real)]
    assert answers[real][0] == [401, 401, 401]


def test_a_right_password_resets_the_count_and_the_address_limit_holds(small_limits):
    user = add_user(small_limits)
    for _ in range(2):
        assert sign_in(small_limits, user, "wrong").status_code == 401
    assert sign_in(small_limits, user, PASSWORD).status_code == 200
    for _ in range(2):  # the account starts afresh: two more failures are still 401s
        assert sign_in(small_limits, user, "wrong").status_code == 401
    # The address has 4 failures; 4 more on other names reach its limit of 8.
    for i in range(4):
        assert sign_in(small_limits, f"other-{i}", "wrong").status_code == 401
    resp = sign_in(small_limits, user, PASSWORD)
    message = assert_error(resp, 429, "too_many_sign_ins")
    assert "network address" in message
    assert int(resp.headers["Retry-After"]) > 0
    spec = requests.get(f"{small_limits.url}/openapi.json", timeout=30).json()
    assert {"429", "503"} <= set(spec["paths"]["/v1/auth/token"]["post"]["responses"])


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_a_burst_of_sign_ins_is_answered_without_exhausting_memory(tmp_path):
    """40 parallel sign-ins (each argon2 hash takes 64 MiB): unbounded, this took the platform
    past 1.3 GB. Bounded: one hash per core, a short queue, and the rest a quick 503."""
    proc = start(tmp_path, **{SIGNIN_ADDRESS_FAILURES_ENV: "10000", HASH_QUEUE_ENV: "2"})
    try:
        pid = proc.process.pid
        before = _memory_kib(pid, "VmRSS")
        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda i: sign_in(proc, f"burst-{i}", "guess"), range(40)))
        peak = _memory_kib(pid, "VmHWM")
    finally:
        proc.stop()
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {401, 503}, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert busy, statuses
    for resp in busy:
        # The hashing gate's 503, or admission's when more sign-ins wait than it queues.
        assert "try again in a moment" in assert_error(resp, 503, "busy").lower()
        assert int(resp.headers["Retry-After"]) > 0
    slots = max(2, os.cpu_count() or 2)
    # Each hash in flight costs 64 MiB; allow the slots' worth plus 150 MiB of slack.
    assert (peak - before) < (slots * 64 + 150) * 1024, (before, peak)


# -- private data files ------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_database_are_private_to_the_platform_user(tmp_path):
    data = tmp_path / "platform"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    db = data / "platform.sqlite3"
    sqlite3.connect(db).close()  # an older platform's database, world-readable
    os.chmod(db, 0o644)
    proc = start(tmp_path)
    try:
        add_user(proc)  # writes to the database (the WAL exists while it runs)
        assert _mode(data) == 0o700
        for file in data.iterdir():
            if file.name.startswith("platform.sqlite3"):
                assert _mode(file) == 0o600, file
        assert _mode(data / "platform-secret.key") == 0o600
    finally:
        proc.stop()
