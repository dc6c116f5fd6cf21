"""Remix lineage ("Remix this remix"): who a fork credits, and how the credit is worded and paid.

One module for both sides: the platform records the credit in the disclosure and pays it in the
split statement (server/splits.py), the studio shows the same words and share before the fan
submits. The rule itself is documented in docs/policy.md ("Inspired by").
"""

from __future__ import annotations

from core.text import isolate

ORIGINAL_REMIXER_PART = (3, 1)
"""How a fork's creator share divides: (the fork's creator, the original remixer) weights.

A quarter of the creator share goes to the remixer whose published remix the fork started from:
the fork's recipe begins as their work, but what makes it a new remix is the fork's creator's.
It comes out of the creator share only, so the track's artist and rightsholders (and the
platform) get exactly what any remix of the track gives them: forking never dilutes the artist.
"""

TITLE_SUFFIX = " (flip)"
MAX_TITLE = 120  # RemixDocument.title's limit


def credit_line(title: str, remixer: str) -> str:
    """The credit as listeners read it: Inspired by “title” by remixer."""
    return f"Inspired by “{isolate(title)}” by {isolate(remixer)}"


def fork_title(title: str) -> str:
    """A fork's first title: the original's with " (flip)", within the title limit (the fan
    renames it in Submit)."""
    return title[: MAX_TITLE - len(TITLE_SUFFIX)].rstrip() + TITLE_SUFFIX
