"""Lineage of a forked remix ("Remix this remix", BandLab's "Inspired by"): the document's
`inspired_by` checked and resolved into the credit the disclosure and the split record, and the
fork itself (a published remix's recipe as a new draft's starting point).

A remix may be inspired by a *published* remix of the *same track* (what the submitter can hear
in the track's feed). Anything else is a 422 `invalid_inspired_by` saying what to do.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.contract import RemixCredit, RemixDocument, RemixStatus
from core.lineage import fork_title
from core.links import remix_link
from server.db import Remix, Track, User
from server.errors import ApiError

INVALID = "invalid_inspired_by"
_STATUS_WORDS = {
    RemixStatus.RECEIVED.value: "not published yet (it is still being received)",
    RemixStatus.RENDERING.value: "not published yet (it is still rendering)",
    RemixStatus.PENDING_APPROVAL.value: "not published yet (it waits for the artist's approval)",
    RemixStatus.REJECTED.value: "not published (it was rejected)",
    RemixStatus.TAKEN_DOWN.value: "no longer published (the artist took it down)",
}


def credit_for(remix: Remix) -> RemixCredit:
    return RemixCredit(
        remix_id=remix.id,
        title=remix.title,
        remixer=remix.user.display_name,
        link=remix_link(remix.id),
    )


def resolve_inspiration(db: Session, user: User, doc: RemixDocument) -> Remix | None:
    """The published remix `doc.inspired_by` names (None when it names none), else a 422.

    Visible means what the feed shows: published, of the document's track. Another fan's
    unpublished remix answers exactly like an unknown id, so ids cannot be probed."""
    if doc.inspired_by is None:
        return None
    original = db.scalar(
        select(Remix)
        .where(Remix.id == doc.inspired_by)
        .options(selectinload(Remix.user), selectinload(Remix.track))
    )
    own = original is not None and original.user_id == user.id
    if original is None or (original.status != RemixStatus.PUBLISHED.value and not own):
        raise ApiError(
            422,
            INVALID,
            f"inspired_by names '{doc.inspired_by}', which is not a published remix you can "
            "hear. Fork a remix from the track's Remixes panel (Remix this remix), or leave "
            "inspired_by out.",
        )
    if original.track_id != doc.track_id:
        raise ApiError(
            422,
            INVALID,
            f"inspired_by names '{original.title}', a remix of another track "
            f"('{original.track.title}'); a remix can only be inspired by a remix of the same "
            "track. Fork a remix of this track, or leave inspired_by out.",
        )
    if original.status != RemixStatus.PUBLISHED.value:
        words = _STATUS_WORDS.get(original.status, "not published")
        raise ApiError(
            422,
            INVALID,
            f"inspired_by names your remix '{original.title}', which is {words}; only a "
            "published remix can be credited as the inspiration. Leave inspired_by out.",
        )
    return original


def original_remixer(user: User, original: Remix | None) -> tuple[str, str] | None:
    """(party, remix id) for the split: the original remix's creator, unless that is the
    submitter (forking one's own remix pays them nothing twice)."""
    if original is None or original.user_id == user.id:
        return None
    return original.user.display_name, original.id


class ForkRefused(Exception):
    """A published remix whose recipe no longer fits its track (the message says why)."""


def fork_document(original: Remix, track: Track) -> RemixDocument:
    """A new draft from a published remix: its recipe, its lineage, a title to rename.

    The description is the original's own words, so it is left out; the AI declaration stays
    (the mix starts as the original's, with whatever AI use it declared). Stems the artist has
    locked since the original was made stay in the recipe: the studio leaves them out, as it
    does with an old draft, and the platform's check names anything the policy now refuses."""
    doc = RemixDocument.model_validate(original.document)
    if doc.track_version != track.version:
        raise ForkRefused(
            f"'{original.title}' was made from an earlier version of '{track.title}' whose "
            "stems have changed since, so its recipe no longer fits. Remix the track itself."
        )
    return doc.model_copy(
        update={"title": fork_title(original.title), "description": "", "inspired_by": original.id}
    )
