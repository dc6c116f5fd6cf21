"""Admission: at most `slots` requests inside the API at once; the rest wait briefly, then 503.

Why: each request holds a database session from its dependencies to its last byte, while the
route itself needs a worker thread of its own. With more requests in flight than database
connections, every worker thread ends up waiting for a connection held by a request that is
waiting for a worker thread: the platform hung for 30 s and answered 500s (issue 9). Bounding the
requests in flight to the connection pool removes that cycle; a request that cannot get in within
`wait_s` is told at once to come back (503 + Retry-After) instead of hanging.

Liveness (`/v1/health`) skips the queue: it never waits on the database or on other requests.

Three pools, so a popular drop's cheap reads stay quick while the expensive work queues:

* **light** requests, reading the catalog, a track's detail or /me (a cached body and a
  primary-key read or two: server/catalog_cache.py);
* **stream** requests, stem Range reads (a file read and sealing);
* **work**, everything else (a remix check or submission, a sign-in, an artist's change: many
  times the CPU of a light request), at most `work_slots` at once. It is CPU-bound and one
  process runs Python on one core at a time: more at once add no throughput, but every light
  request's thread would wait its turn for the interpreter behind all of them (catalog p99
  2-4 s at 500 clients with up to 32 such requests in flight; benchmarks/README.md). At most
  `WORK_QUEUE_PER_SLOT` per slot wait for one: past that, a request is told at once to come
  back (503 + Retry-After) rather than after waiting its `wait_s` out.

The light and stream pools share what `work_slots` leaves of `slots` (the database connections
the API keeps), two thirds and one third, and their queues are not bounded. A light read waits
at most `LIGHT_WAIT_S` (its latency is its wait); a stem read waits `wait_s` (a refused one is
retried by the studio with backoff, but each retry costs the fan a moment of download). No
pool waits behind another, so none starves (a strict priority for light requests starved the
rest: measured, then dropped).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from server.errors import error_response

log = logging.getLogger("encore.platform.admission")

UNQUEUED = ("/v1/health",)
BUSY_MESSAGE = (
    "The platform is busy right now. Nothing was changed: try again in a moment "
    "(Encore retries by itself)."
)


WORK_QUEUE_PER_SLOT = 8
LIGHT_WAIT_S = 0.5
"""The longest a light read waits for a slot before it is told to come back. A catalog or
detail read is served in milliseconds once in, so its latency is its wait: capped here, a
saturated platform answers every light read within about a second, served or 503 + Retry-After,
instead of queueing each for up to `wait_s` (catalog p99 2.7 s at 500 clients with 3 s)."""
LIGHT, STREAM, WORK = "light", "stream", "work"

# GET paths answered from cached bodies or a primary-key read or two; stem reads.
_LIGHT = re.compile(r"/v1/(me|tracks|tracks/[^/]+)")
_STREAM = re.compile(r"/v1/tracks/[^/]+/stems/[^/]+/audio")


def pool_of(scope: Scope) -> str:
    """Which admission pool a request waits in (see the module docstring)."""
    if scope.get("method") in ("GET", "HEAD"):
        if _LIGHT.fullmatch(scope["path"]):
            return LIGHT
        if _STREAM.fullmatch(scope["path"]):
            return STREAM
    return WORK


class Slots:
    """A counting semaphore for one event loop with a bounded wait, first come first served,
    that never loses a slot to a waiter whose wait ends (or whose client leaves) just as it is
    handed one."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()

    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, timeout: float) -> bool:
        """Take a slot within `timeout` seconds (True), or give up (False)."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
            return True
        except BaseException as exc:  # the wait ran out, or the client went away
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot at that very moment: pass it on
            if isinstance(exc, TimeoutError):
                return False
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to it without becoming free
                return
        self.free += 1


class Admission:
    def __init__(self, app: ASGIApp, slots: int, wait_s: float, work_slots: int = 0) -> None:
        self.app = app
        self.slots, self.wait_s = slots, wait_s
        # Every pool gets at least one slot (a tiny `slots` then allows a few more in all).
        # Of the rest, a third for stem reads: they are CPU-bound too (sealing), and every one
        # in flight slows the light requests' threads as work does.
        work = max(1, min(work_slots or slots // 3, slots - 2))
        light = max(1, (slots - work) * 2 // 3)
        self.sizes = {LIGHT: light, STREAM: max(1, slots - work - light), WORK: work}
        self._pools: dict[str, Slots] = {}  # made and used on the server's event loop only
        self.shed = 0  # requests answered 503 (QA reads it in the log)

    def _pool(self, name: str) -> Slots:
        if not self._pools:
            self._pools = {n: Slots(size) for n, size in self.sizes.items()}
        return self._pools[name]

    async def _admit(self, name: str) -> bool:
        pool = self._pool(name)
        if name == WORK and pool.waiting() >= self.sizes[WORK] * WORK_QUEUE_PER_SLOT:
            return False  # more wait already than get in within the wait: say so now
        return await pool.acquire(min(self.wait_s, LIGHT_WAIT_S) if name == LIGHT else self.wait_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        name = pool_of(scope)
        if not await self._admit(name):
            self.shed += 1
            if self.shed % 100 == 1:
                log.warning(
                    "Busy: %d requests turned away so far (%d slots)", self.shed, self.slots
                )
            response = error_response(503, "busy", BUSY_MESSAGE)
            response.headers["Retry-After"] = "1"
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._pool(name).release()  # the response is out and the request's session closed
