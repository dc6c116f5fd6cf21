"""One error shape for every failure: `{"error": {"code", "message"}}`.

Clients branch on `code` and show `message` as is, so every message says what happened and what
the person can do about it. FastAPI's defaults (`{"detail": ...}`, plain-text 500s) are replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.contract import ErrorDetail, ErrorResponse

log = logging.getLogger("encore.platform")

# Codes for HTTPExceptions raised by the framework itself (unknown route, wrong method...).
_STATUS_CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_request",
    429: "too_many_requests",
}

_STATUS_MESSAGES = {
    404: "There is nothing at this address. Check the URL against /openapi.json.",
    405: "This address does not accept that method. Check the API reference at /openapi.json.",
}

# The framework's only 400s are bodies it cannot decode: FastAPI's "There was an error parsing
# the body" (not UTF-8...) and Starlette's multipart errors ("Missing boundary in multipart.").
_UNPARSEABLE_BODY = "There was an error parsing the body"


def unreadable_body_message(detail: str | None) -> str:
    """The framework's terse reason, with what to send instead."""
    why = "" if detail in (None, _UNPARSEABLE_BODY) else f" ({detail.rstrip('.')})"
    return (
        f"The request body could not be read{why}. Send JSON encoded as UTF-8 with "
        "'Content-Type: application/json' (sign-in: an 'application/x-www-form-urlencoded' "
        "form) and try again."
    )


class ApiError(Exception):
    """Raised by routes and dependencies; rendered by `api_error_handler`."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


OpenApiResponses = dict[int | str, dict[str, Any]]
"""What a route's `responses=` takes: the extra responses its OpenAPI entry documents."""


def error_responses(*statuses: int) -> OpenApiResponses:
    """The error responses a route documents, each with the ErrorResponse body."""
    return {status: {"model": ErrorResponse} for status in statuses}


def error_response(
    status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status_code, headers=dict(headers or {}))


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"No {what} with id '{ident}'. Check the id and try again.")


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400:
        return error_response(400, "unreadable_body", unreadable_body_message(detail), exc.headers)
    generic = _STATUS_MESSAGES.get(exc.status_code)
    if detail in (None, "Not Found", "Method Not Allowed") and generic:
        message = generic
    else:
        message = detail or "The request could not be handled."
    return error_response(exc.status_code, code, message, exc.headers)


def _location(loc: Sequence[Any]) -> str:
    """('body', 'stems', 'drums', 'gain_db') -> 'stems.drums.gain_db' (the part a person edits)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form", "cookie"):
        where, parts = parts[0], parts[1:]
        if not parts:
            return "the request body" if where == "body" else f"the {where}"
        if where != "body":
            return f"{where} parameter '{'.'.join(parts)}'"
    return f"'{'.'.join(parts)}'"


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """A (code, message) naming each offending field and what is wrong with it."""
    if any(e.get("type") == "json_invalid" for e in errors):
        err = next(e for e in errors if e.get("type") == "json_invalid")
        problem = (err.get("ctx") or {}).get("error", "it could not be parsed")
        return "invalid_json", f"The request body is not valid JSON ({problem}). Fix and resend."
    parts = []
    for e in errors[:5]:
        where = _location(e.get("loc", ()))
        msg = str(e.get("msg", "is invalid"))
        if e.get("type") == "missing":
            parts.append(f"{where} is required")
        elif e.get("type") == "extra_forbidden":
            parts.append(f"{where} is not a known field")
        elif e.get("type") == "text_rule":  # core/text.py: already names the field in words
            parts.append(msg.rstrip("."))
        else:
            parts.append(f"{where}: {msg[0].lower() + msg[1:] if msg else msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    message = "; ".join(parts) + more + "."
    # Only text the display rule refused: the same code as server/text.py's refusals.
    code = (
        "invalid_text" if all(e.get("type") == "text_rule" for e in errors) else "invalid_request"
    )
    return code, message[0].upper() + message[1:]


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, message = describe_validation_errors(exc.errors())
    return error_response(422, code, message)


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "internal_error",
        "Something went wrong on the platform. Try again; if it keeps happening, report it.",
    )


_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_ERROR_CONTENT = {"application/json": {"schema": _ERROR_REF}}
_DOCUMENTED_ERRORS = {
    400: "The body could not be read (not UTF-8 JSON, or a broken form).",
    413: "The body is larger than the platform accepts.",
    422: "A parameter or field is invalid; the message names it and what to change.",
}


def document_error_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document describe the errors actually sent.

    FastAPI documents its own 422 body (`HTTPValidationError`), which this platform never sends,
    and leaves out the 400 and 413 any route with a body can answer and the 422 any route with
    parameters can answer (server/text.py refuses control characters on every route). Every
    such response is documented here with the one error shape, so clients (and the API fuzz
    test) can rely on the document.
    """
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            codes: list[int] = []
            if operation.get("parameters") or "requestBody" in operation:
                codes.append(422)
            if "requestBody" in operation:
                codes += [400, 413]
            for status in codes:
                entry = responses.setdefault(str(status), {"description": ""})
                entry["description"] = entry.get("description") or _DOCUMENTED_ERRORS[status]
                entry["content"] = _ERROR_CONTENT
            for entry in responses.values():
                content = entry.get("content", {}).get("application/json", {})
                if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    entry["content"] = _ERROR_CONTENT
                    if entry.get("description") == "Validation Error":
                        entry["description"] = _DOCUMENTED_ERRORS[422]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_error_shape(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
