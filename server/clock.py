"""The platform's clock: one object every rule that depends on the time of day reads.

Token expiry, the daily submission quota, play counts per UTC day, device key rotation, the
sign-in throttle's and stem delivery's windows and the audit trail's timestamps all ask the
`Clock` the app was built with (`app.state.clock`, the `ClockDep` dependency), never
`datetime.now` themselves, so a test can move time instead of sleeping through it.

* `SystemClock`: the real time; what every platform runs on unless told otherwise.
* `ManualClock`: a settable clock for code driven in-process (a test builds the app or calls a
  rule with it).
* `OffsetFileClock`: the real time plus an offset read from a file in the data dir, for a
  platform in another process (the test suite's platforms on 127.0.0.1). The test moves time with
  `advance_offset_file`. Only `encore-platform serve/worker --test-clock` builds one: there is no
  HTTP endpoint that moves time, and without the flag the file is never read, so a production
  platform cannot be made to expire or extend anything by it.

Waits of real threads (the admission queue, hashing slots, the render queue's retry pause, the
demo seeder's deadline) are real durations, not time of day: they stay on `time.monotonic`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

log = logging.getLogger("encore.platform.clock")

# In the data dir of a platform started with --test-clock: seconds (a float) added to real time.
OFFSET_FILE = "test-clock-offset"


class Clock(Protocol):
    """Wall-clock time (aware, UTC) and a monotonic reading that moves with it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going back: for in-memory windows."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told (in-process tests). Starts at `start` (default: now)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime (e.g. datetime(..., tzinfo=UTC))")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward (never back: monotonic readings must not decrease)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward; advance by a positive number of seconds")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds


class OffsetFileClock:
    """Real time plus the offset in `path` (0 while the file is missing).

    The file is read at every reading (a few microseconds; test platforms only), so every
    process of a platform sharing the data dir sees a move at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0.0
        self._lock = threading.Lock()

    def offset(self) -> float:
        try:
            value = float(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            value = 0.0
        except (OSError, ValueError):
            log.warning("Test clock: %s is not a number of seconds; ignored", self.path)
            value = 0.0
        with self._lock:
            self._offset = max(self._offset, value)  # never back: monotonic must not decrease
            return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset())

    def monotonic(self) -> float:
        return time.monotonic() + self.offset()


def advance_offset_file(data_dir: Path, seconds: float) -> float:
    """Move the clock of a --test-clock platform using `data_dir` forward; the new offset.

    Written to a temporary file and renamed, so the platform never reads half a number."""
    if seconds < 0:
        raise ValueError("a clock only moves forward; advance by a positive number of seconds")
    path = data_dir / OFFSET_FILE
    try:
        current = float(path.read_text().strip() or 0)
    except FileNotFoundError:
        current = 0.0
    new = current + seconds
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(new))
    os.replace(tmp, path)
    return new


def make_clock(data_dir: Path, test_clock: bool) -> Clock:
    """The clock a platform process runs on: real time unless started with --test-clock."""
    if not test_clock:
        return SystemClock()
    log.warning(
        "Test clock: time is the real time plus the offset in %s (QA and tests only)",
        data_dir / OFFSET_FILE,
    )
    return OffsetFileClock(data_dir / OFFSET_FILE)
