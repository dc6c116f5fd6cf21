"""How many different tracks' stems one account may stream in an hour.

A fan remixing opens a handful of tracks an hour, and re-reads them often (seeks, a resumed
download, a second device): none of that is ever refused, because a track already streamed in the
window costs nothing more. A scraper walks the catalog: the first track past the limit is refused
with a 429 that says when streaming resumes, and logged. Tracks are counted per account, not per
device or address, so more devices or addresses do not raise the limit. An artist's own tracks
are never counted.

Counts live in the process (one embedded platform is one process); behind several API processes
each counts its own share, which a shared store (the task queue's Redis or PostgreSQL) would
tighten: see docs/threat-model.md.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("encore.platform.delivery")

WINDOW_S = 3600.0


class DeliveryLimited(Exception):
    def __init__(self, tracks: int, retry_after: int) -> None:
        super().__init__(f"{tracks} tracks in the last hour")
        self.tracks = tracks
        self.retry_after = retry_after


class DeliveryLimiter:
    def __init__(self, tracks_per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.tracks_per_hour = tracks_per_hour
        self._clock = clock  # the platform clock's monotonic reading (server/clock.py)
        self._seen: dict[int, OrderedDict[str, float]] = {}  # user -> track -> last streamed
        self._lock = threading.Lock()

    def admit(self, user_id: int, track_id: str, now: float | None = None) -> None:
        """Count a stem request; raises DeliveryLimited for a new track past the limit."""
        now = self._clock() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(user_id, OrderedDict())
            while seen and next(iter(seen.values())) <= now - WINDOW_S:
                seen.popitem(last=False)
            if track_id not in seen and len(seen) >= self.tracks_per_hour:
                oldest = next(iter(seen.values()))
                retry = max(1, math.ceil(oldest + WINDOW_S - now))
                log.warning(
                    "Stem delivery refused: account %s asked for a %dth track within an hour "
                    "(track %s); possible catalog scrape",
                    user_id,
                    len(seen) + 1,
                    track_id,
                )
                raise DeliveryLimited(len(seen), retry)
            seen[track_id] = now
            seen.move_to_end(track_id)
