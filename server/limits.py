"""Request-size limit: a body above `Settings.max_body_bytes` is a 413 in the platform's JSON shape.

Every body the API accepts is small (a remix document is a recipe, never audio; the policy and
review bodies are smaller still), so a large body is a mistake or an attack, and buffering it
would let one client fill the server's memory. Two cases:

* a declared `Content-Length` above the limit is refused before a byte of the body is read;
* a chunked body (no length) is counted as it arrives and refused once it crosses the limit.
  The count happens inside `receive`, so the route's body parsing raises the 413 and the
  error handlers render it like any other error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import DEFAULT_MAX_BODY_BYTES
from server.errors import error_response


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def too_large_message(limit: int, size: int | None = None) -> str:
    got = f"is {_size(size)}" if size is not None else "is larger than that"
    return (
        f"The request body {got}; the platform accepts at most {_size(limit)}. A remix document "
        "is a recipe, not audio: remove anything else from the body and resend."
    )


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive`; FastAPI re-raises HTTPExceptions from body parsing unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


class BodySizeLimit:
    """Pure ASGI middleware (no body buffering of its own)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            response = error_response(413, "too_large", too_large_message(self.limit, declared))
            response.headers["Connection"] = "close"  # the unread body makes the socket unusable
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length itself
    return None
