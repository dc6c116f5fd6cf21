"""Parsing a `Range: bytes=...` request header (RFC 9110, section 14).

Kept apart from how bytes are delivered so that the delivery can change without touching the
parser. The header is attacker-controlled text, so the parser accepts ASCII digits only (not
`str.isdigit()`, which also accepts '²' or Arabic-Indic digits that `int()` then refuses) and
never converts more than `MAX_DIGITS` of them (Python refuses to `int()` more than 4300 digits,
and a number that long is no file offset anyway).
"""

from __future__ import annotations

import re

from server.errors import ApiError

# 10**18 bytes is an exabyte: a longer number cannot be an offset into any file we store.
MAX_DIGITS = 18
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class RangeNotSatisfiable(Exception):
    """The range is well-formed but starts past the end of the file: the answer is a 416."""


def _number(text: str) -> int | None:
    """An ASCII decimal, or None if it is not one; numbers past `MAX_DIGITS` come back as
    10**MAX_DIGITS, which is larger than any file and so behaves like the real value."""
    if not _DIGITS.fullmatch(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > MAX_DIGITS:
        return 10**MAX_DIGITS
    return int(significant or "0")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single `bytes=` range, or None for the whole file.

    RFC 9110 lets a server ignore a Range header, so anything malformed, multi-range or in
    another unit gets the whole file with a 200; a well-formed range that starts at or past the
    end raises `RangeNotSatisfiable` (a 416 with `Content-Range: bytes */size`). A last position
    past the end is clamped, and a suffix longer than the file means the whole file (14.1.2).
    """
    if not header:
        return None
    units, _, spec = header.partition("=")
    if units.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    first_s, last_s = first_s.strip(), last_s.strip()
    if not dash or not (first_s or last_s):
        return None
    first = _number(first_s) if first_s else None
    last = _number(last_s) if last_s else None
    if (first_s and first is None) or (last_s and last is None):
        return None
    if first is None:  # suffix: the last n bytes
        assert last is not None
        if last == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - last, 0), size - 1
    if last is not None and last < first:
        return None  # an invalid range-spec (14.1.1): ignored
    if first >= size:
        raise RangeNotSatisfiable
    return first, size - 1 if last is None else min(last, size - 1)


def requested_range(
    header: str | None, size: int, what: str, headers: dict[str, str]
) -> tuple[int, int] | None:
    """`parse_range`, with a well-formed range past the end raised as the platform's JSON 416
    (`what` names the resource in the message, e.g. "the file")."""
    try:
        return parse_range(header, size)
    except RangeNotSatisfiable:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"The requested byte range is outside {what}, which is {size} bytes long.",
            headers={"Content-Range": f"bytes */{size}", **headers},
        ) from None
