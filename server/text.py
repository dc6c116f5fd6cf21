"""Refuse text no field may hold, on every route, before any handler or query sees it.

A NUL byte in a username or an id made PostgreSQL fail (a 500) while SQLite stored it, and raw
control characters reached the log. Rather than trust each model and route to remember, one
router-wide dependency checks every path parameter, query parameter, form field and JSON string
(keys included) with `core.text.refused_character` and answers a 422 naming the field. Titles
and descriptions get the stricter display rule in the contract (`RemixDocument`), which uses
the same module.
"""

from __future__ import annotations

import email.message
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from core.text import refused_character, refused_character_message
from server.errors import ApiError

CODE = "invalid_text"  # also the code of the display rule's refusals (server/errors.py)


def _json_strings(value: Any) -> Iterator[tuple[str, str, bool]]:
    """(field path, text, is a key) for every string in a parsed JSON body.

    Iterative, not recursive: the body can be nested as deep as the JSON parser allows, and the
    request is already deep in the stack here.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item, False
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                yield child_path, str(key), True
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))


def _field(path: str) -> str:
    """'title' for a top-level field (the display rule's words), "field 'a.b'" for others."""
    if not path:
        return "request body"
    return path if path.isidentifier() else f"field '{path}'"


def _refuse(char: str, what: str) -> ApiError:
    # The field path may itself hold the character (a JSON key): show it escaped.
    printable = what.encode("unicode_escape").decode("ascii") if refused_character(what) else what
    return ApiError(422, CODE, refused_character_message(char, printable))


def _media_type(request: Request) -> tuple[str, str]:
    message = email.message.Message()
    message["content-type"] = request.headers.get("content-type", "")
    return message.get_content_maintype(), message.get_content_subtype()


async def refuse_control_characters(request: Request) -> None:
    """The router-wide check; see the module docstring.

    Runs after FastAPI has read the body (it caches it on the request), so reading it here costs
    a second walk, not a second read. A body FastAPI itself could not parse is left to FastAPI's
    own error.
    """
    for name, value in request.path_params.items():
        if isinstance(value, str) and (char := refused_character(value)):
            raise _refuse(char, f"path parameter '{name}'")
    for name, value in request.query_params.multi_items():
        for text, what in ((name, "query parameter name"), (value, f"query parameter '{name}'")):
            if char := refused_character(text):
                raise _refuse(char, what)
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return
    main, sub = _media_type(request)
    if main == "application" and (sub == "json" or sub.endswith("+json")):
        try:
            body = await request.json()
        except Exception:  # FastAPI answers malformed JSON itself
            return
        for path, text, is_key in _json_strings(body):
            if char := refused_character(text, multiline=not is_key):
                raise _refuse(char, _field(path))
    elif (main, sub) in (("application", "x-www-form-urlencoded"), ("multipart", "form-data")):
        try:
            form = await request.form()
        except Exception:  # FastAPI answers a malformed form itself
            return
        for name, value in form.multi_items():
            if char := refused_character(name):
                raise _refuse(char, "form field name")
            if isinstance(value, str) and (char := refused_character(value)):
                raise _refuse(char, _field(name))
