"""Admission: at most `slots` requests inside the API at once; the rest wait briefly, then 503.

Why: each request holds a database session from its dependencies to its last byte, while the
route itself needs a worker thread of its own. With more requests in flight than database
connections, every worker thread ends up waiting for a connection held by a request that is
waiting for a worker thread: the platform hung for 30 s and answered 500s (issue 9). Bounding the
requests in flight to the connection pool removes that cycle; a request that cannot get in within
`wait_s` is told at once to come back (503 + Retry-After) instead of hanging.

Liveness (`/v1/health`) skips the queue: it never waits on the database or on other requests.

Light requests first: reading the catalog, a track's detail or /me costs a cached body and a
primary-key read or two (server/catalog_cache.py), a stem read or a remix check many times that.
When requests wait for a slot, a freed slot goes to the oldest light request waiting before any
other, so under a popular drop the catalog stays quick while the expensive work queues (and is
turned away with a 503 first when the wait runs out).
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


# GET paths answered from cached bodies or a primary-key read: they go before other requests.
LIGHT = re.compile(r"/v1/(me|tracks|tracks/[^/]+)")


def is_light(scope: Scope) -> bool:
    return scope.get("method") == "GET" and LIGHT.fullmatch(scope["path"]) is not None


class PrioritySlots:
    """A counting semaphore for one event loop whose waiters queue in two lanes: a released
    slot goes to the oldest light waiter, else to the oldest other one."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self._light: deque[asyncio.Future[None]] = deque()
        self._other: deque[asyncio.Future[None]] = deque()

    def waiting(self) -> int:
        return len(self._light) + len(self._other)

    async def acquire(self, light: bool, timeout: float) -> bool:
        """Take a slot within `timeout` seconds (True), or give up (False)."""
        lane = self._light if light else self._other
        ahead = self._light if light else (*self._light, *self._other)
        if self.free > 0 and not any(not f.done() for f in ahead):
            self.free -= 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.append(waiter)
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
            if waiter in lane:
                lane.remove(waiter)

    def release(self) -> None:
        for lane in (self._light, self._other):
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the slot moves to it without becoming free
                    return
        self.free += 1


class Admission:
    def __init__(self, app: ASGIApp, slots: int, wait_s: float) -> None:
        self.app = app
        self.slots, self.wait_s = slots, wait_s
        self._free: PrioritySlots | None = None  # used on the server's own event loop only
        self.shed = 0  # requests answered 503 (QA reads it in the log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        if self._free is None:
            self._free = PrioritySlots(self.slots)
        if not await self._free.acquire(is_light(scope), self.wait_s):
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
            self._free.release()  # the response is out and the request's session closed
