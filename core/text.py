"""What text the platform stores and shows: one rule set, used by the contract and the server.

Lives in `app` (not `server`) because the client validates a remix's title with the same rule
before it submits, and `app` must not depend on `server`. Every message is read by a fan, so it
says in plain words what is wrong and what to change.

Refused everywhere (any text field, path or query parameter): control characters (Unicode Cc:
NUL, ESC, DEL, C1...; in multi-line text, tab and line breaks are allowed) and lone surrogates.
They cannot be shown, they corrupt logs, PostgreSQL cannot store NUL at all, and a surrogate
cannot be encoded as UTF-8.

Refused in titles and descriptions (what other fans read): the explicit direction-changing
characters (embeddings, overrides and isolates, U+202A-U+202E and U+2066-U+2069), which let a
title display as something it is not; and a title that shows nothing (empty, only spaces, only
zero-width or other invisible characters). The implicit direction marks (U+200E, U+200F, U+061C)
stay allowed: mixed right-to-left and left-to-right titles need them, and they cannot reorder
text the way an override does.
"""

from __future__ import annotations

import unicodedata

LINE_BREAKS = frozenset("\n\r\u2028\u2029\x0b\x0c\x85")
# Embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and marks that are drawn as nothing (Hangul fillers, the blank Braille pattern, the
# combining grapheme joiner, Mongolian and other variation selectors): a "title" of these shows
# as blank although it is not whitespace.
_BLANK_LOOKING = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u180b\u180c\u180d\u180e\u180f"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)


def codepoint(char: str) -> str:
    """'U+202E': how a message names a character that cannot be shown."""
    return f"U+{ord(char):04X}"


def refused_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character no text field may hold, or None.

    Control characters (category Cc) and lone surrogates (Cs); `multiline` text may hold tabs and
    CR/LF line breaks (descriptions, review reasons), single-line text (titles, names, ids, path
    and query parameters) may not.
    """
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return char
        if category == "Cc" and not (multiline and char in "\t\n\r"):
            return char
    return None


def refused_character_message(char: str, what: str, retry: str = "try again") -> str:
    """Why `char` is refused in `what` (e.g. 'title', "query parameter 'q'")."""
    if char in LINE_BREAKS:
        return f"The {what} contains a line break. Keep it on one line and {retry}."
    if unicodedata.category(char) == "Cs":
        return (
            f"The {what} contains a broken character ({codepoint(char)}) that is not valid "
            f"text. Retype it and {retry}."
        )
    name = "a NUL byte" if char == "\x00" else "an invisible control character"
    return f"The {what} contains {name} ({codepoint(char)}). Remove it and {retry}."


def _invisible(char: str) -> bool:
    return (
        char.isspace()
        or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp", "Cc")
        or char in _BLANK_LOOKING
        or 0xE0100 <= ord(char) <= 0xE01EF  # variation selectors supplement
    )


def display_text_problem(
    value: str, what: str, *, multiline: bool = False, required: bool = True
) -> str | None:
    """Why `value` may not be shown to fans as the `what` (e.g. 'title'), or None if it may.

    The one rule for titles and descriptions: the contract's validators and the platform both
    call it. `required` text must show something; optional text may be empty or blank, but not
    a string of only invisible characters (which only serves to hide something).
    """
    char = refused_character(value, multiline=multiline)
    if char is not None:
        return refused_character_message(char, what, "submit again")
    if not multiline and any(c in LINE_BREAKS for c in value):  # U+2028 is no control (Zl)
        return refused_character_message("\n", what, "submit again")
    bidi = next((c for c in value if c in BIDI_CONTROLS), None)
    if bidi is not None:
        return (
            f"The {what} contains a hidden direction-changing character ({codepoint(bidi)}). "
            "Remove it and submit again."
        )
    if not value.strip():
        if required:
            return f"The {what} is empty. Type a {what} and submit again."
        return None
    if all(_invisible(c) for c in value):
        return (
            f"The {what} contains only invisible characters, so it would show as blank. "
            f"Type a {what} people can read and submit again."
        )
    return None


FSI, PDI = "\u2068", "\u2069"


def isolate(text: str) -> str:
    """`text` as a bidi isolate (FSI … PDI) for showing inside other text.

    A title or name may be right-to-left (Hebrew, Arabic): dropped into "“…” by fan · 3 stems" it
    would pull the neighbouring quotes, digits and words into its own direction and reorder them.
    Isolated, it is laid out on its own and the text around it keeps its order. Only for display:
    what is sent to the platform is the text as typed.
    """
    return f"{FSI}{text}{PDI}"
