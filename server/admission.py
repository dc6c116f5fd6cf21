"""Admission: at most `slots` requests inside the API at once; the rest wait briefly, then 503.

Why: each request holds a database session from its dependencies to its last byte, while the
route itself needs a worker thread of its own. With more requests in flight than database
connections, every worker thread ends up waiting for a connection held by a request that is
waiting for a worker thread: the platform hung for 30 s and answered 500s (issue 9). Bounding the
requests in flight to the connection pool removes that cycle; a request that cannot get in within
`wait_s` is told at once to come back (503 + Retry-After) instead of hanging.

Liveness (`/v1/health`) skips the queue: it never waits on the database or on other requests.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from server.errors import error_response

log = logging.getLogger("encore.platform.admission")

UNQUEUED = ("/v1/health",)
BUSY_MESSAGE = (
    "The platform is busy right now. Nothing was changed: try again in a moment "
    "(Encore retries by itself)."
)


class Admission:
    def __init__(self, app: ASGIApp, slots: int, wait_s: float) -> None:
        self.app = app
        self.slots, self.wait_s = slots, wait_s
        self._free: asyncio.Semaphore | None = None  # made on the server's own event loop
        self.shed = 0  # requests answered 503 (QA reads it in the log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        if self._free is None:
            self._free = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait_s)
        except TimeoutError:
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
