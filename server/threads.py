"""Threads that run request code: few at once, and sign-ins apart.

FastAPI runs every plain `def` route and dependency on the event loop's thread pool (anyio's
default limiter, 40 threads). Python runs one thread at a time per process, so 40 threads add no
throughput; what they do is take the interpreter from the event loop, which then accepts and
reads new connections only in the moments it gets it back. Under a popular drop (500 clients
connecting at once, `benchmarks/load.py --clients 500`) that was the whole of the first
request's latency: connections were accepted one or two every 5-40 ms, so the last client's first
request waited 4.3-4.7 s (p99) before the platform even read it, although catalog reads took
milliseconds once in. With 2 threads the same burst's first requests have p99 1.0 s, and
throughput is the same or better (313 req/s, was 297): the admission pools (server/admission.py)
still bound what waits, and the database connections match them.

Sign-ins wait for an argon2 slot (security.HashGate) holding their thread, up to the gate's
wait. On the request threads, two such waits would stall every other request; they get their
own threads, as many as the gate lets wait, so the gate alone bounds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from server.config import Settings

T = TypeVar("T")


def limit_request_threads(settings: Settings) -> None:
    """Cap the running event loop's default thread pool (call from the app's lifespan)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, settings.request_threads)


def signin_threads(settings: Settings) -> anyio.CapacityLimiter:
    """The sign-ins' own threads: every sign-in the hash gate lets hash or wait, plus one."""
    return anyio.CapacityLimiter(settings.hash_slots + settings.hash_queue + 1)


async def run_signin(request: Request, fn: Callable[[], T]) -> T:
    """`fn` (a sign-in that hashes a password) on the sign-ins' threads."""
    return await anyio.to_thread.run_sync(fn, limiter=request.app.state.signin_threads)
