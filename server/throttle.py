"""Sign-in throttling: failed attempts per account and per client address, in memory.

Why: without it, 100 parallel guesses ran at 7/s against one account. Rules:

* Only failures count, so a person who signs in correctly is never slowed; a success clears the
  account's failures (not the address's: one good account must not launder guesses at others).
* An attempt is counted *before* the password is checked and un-counted if it succeeds, so a
  burst of parallel guesses cannot all slip past the check before the first failure is recorded.
* Accounts are keyed by the username as typed, whether or not such an account exists: an unknown
  username is throttled exactly like a real one, so a 429 reveals nothing about which exist.
* Memory is bounded: a key holds at most `limit` timestamps, and the least recently touched keys
  are dropped beyond `max_keys` (flushing a record that way takes more failures than the
  per-address limit allows one client).

In-memory and per process: a platform run as several processes would keep one throttle each
(the embedded and reference platform run one). Client addresses are the TCP peer; behind a
reverse proxy that would be the proxy, and forwarded addresses would need a trusted-proxy rule.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

ACCOUNT = "account"
ADDRESS = "address"


class Throttled(Exception):
    """Too many recent failures; `retry_after` whole seconds until the next attempt may run."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"sign-in throttled per {scope} for {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way, provisionally counted as a failure."""

    account: bytes
    address: str
    at: float


class _Failures:
    """Per-key timestamps of recent failures, oldest keys first."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = max(1, limit)
        self.window = window
        self.max_keys = max_keys
        self.keys: OrderedDict[bytes | str, deque[float]] = OrderedDict()

    def recent(self, key: bytes | str, now: float) -> deque[float]:
        stamps = self.keys.get(key)
        if stamps is None:
            stamps = self.keys[key] = deque(maxlen=self.limit)
            while len(self.keys) > self.max_keys:
                self.keys.popitem(last=False)
        else:
            self.keys.move_to_end(key)
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, stamps: deque[float], now: float) -> int | None:
        """Seconds until a slot frees up, or None when there is one now."""
        if len(stamps) < self.limit:
            return None
        return max(1, math.ceil(stamps[0] + self.window - now))

    def forget(self, key: bytes | str, at: float) -> None:
        stamps = self.keys.get(key)
        if stamps is not None and at in stamps:
            stamps.remove(at)


class SignInThrottle:
    def __init__(
        self,
        account_failures: int,
        address_failures: int,
        window: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Failures(account_failures, window, max_keys)
        self._addresses = _Failures(address_failures, window, max_keys)
        self._clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _account_key(username: str) -> bytes:
        # A digest, so a megabyte-long username costs 32 bytes of memory.
        return hashlib.sha256(username.encode("utf-8", "surrogatepass")).digest()

    def admit(self, username: str, address: str) -> Attempt:
        """Count an attempt, or raise `Throttled` (the address first: it is the wider limit)."""
        key = self._account_key(username)
        with self._lock:
            now = self._clock()
            by_address = self._addresses.recent(address, now)
            by_account = self._accounts.recent(key, now)
            wait = self._addresses.retry_after(by_address, now)
            if wait is not None:
                raise Throttled(ADDRESS, wait)
            wait = self._accounts.retry_after(by_account, now)
            if wait is not None:
                raise Throttled(ACCOUNT, wait)
            by_address.append(now)
            by_account.append(now)
            return Attempt(key, address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt is no failure, and the account starts afresh."""
        with self._lock:
            self._addresses.forget(attempt.address, attempt.at)
            self._accounts.keys.pop(attempt.account, None)

    def cancel(self, attempt: Attempt) -> None:
        """The password was never checked (the platform was busy): count nothing."""
        with self._lock:
            self._addresses.forget(attempt.address, attempt.at)
            self._accounts.forget(attempt.account, attempt.at)
