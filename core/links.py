"""In-app links: `encore://remix/<id>`, the one thing a fan can copy out of Encore.

The platform makes them (`RemixInfo.link`), the `.desktop` file hands them to `encore`, and a
running Encore receives them from a second launch (`ui/instance.py`).
"""

from __future__ import annotations

import re

SCHEME = "encore"
_REMIX = re.compile(r"^encore://remix/([A-Za-z0-9_-]{1,64})/?$")


class LinkError(ValueError):
    """A link Encore cannot open; the message says what a valid one looks like."""


def remix_link(remix_id: str) -> str:
    return f"{SCHEME}://remix/{remix_id}"


def parse_remix_link(link: str) -> str:
    """The remix id in an `encore://remix/<id>` link."""
    match = _REMIX.match(link.strip())
    if match is None:
        raise LinkError(
            f"“{link.strip()[:80]}” is not an Encore link. Links look like "
            "encore://remix/… — copy it again from the remix's page."
        )
    return match.group(1)
