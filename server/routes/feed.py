"""Remixes of a track for its listeners: the published feed (newest or most played, a page at a
time), play events, and forking a published remix into a new draft ("Remix this remix").

Who: anyone entitled to the track (Superfans, its artist). The feed shows published remixes
only; a remix taken down leaves it at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session

from core.contract import (
    FeedSort,
    PlayCount,
    RemixDocument,
    RemixFeed,
    RemixStatus,
)
from server.db import Remix, User
from server.deps import ClockDep, CurrentUser, SessionDep
from server.errors import ApiError, error_responses
from server.lineage import ForkRefused, fork_document
from server.plays import play_count, record_play
from server.routes.remixes import _get_remix, _may_view, _remix_not_found, _remix_query, remix_info
from server.routes.tracks import get_visible_track, require_entitled

router = APIRouter(tags=["remixes"])

_ERRORS = error_responses(401, 403, 404, 409, 422)
PAGE_MAX = 50


def _encode_cursor(sort: FeedSort, remix: Remix) -> str:
    key = [sort.value, remix.play_count or 0, remix.created_at.isoformat(), remix.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: FeedSort) -> tuple[int, datetime, str]:
    """(plays, created_at, id) of the last remix of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, plays, created, remix_id = json.loads(raw)
        at = datetime.fromisoformat(created)
        if kind != sort.value or not isinstance(plays, int) or not isinstance(remix_id, str):
            raise ValueError(kind)
        if at.tzinfo is None:
            raise ValueError(created)
        return plays, at, remix_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid_cursor",
            f"The cursor is not one this feed gave out for sort={sort.value}. Ask for the first "
            "page again (no cursor) and follow its next_cursor.",
        ) from None


def _after(sort: FeedSort, cursor: tuple[int, datetime, str]) -> ColumnElement[bool]:
    """Rows after the cursor in the feed's order (keyset paging: a remix published meanwhile
    never shifts a page, nothing is repeated)."""
    plays, at, remix_id = cursor
    newer = or_(Remix.created_at < at, and_(Remix.created_at == at, Remix.id < remix_id))
    if sort == FeedSort.NEWEST:
        return newer
    return or_(Remix.play_count < plays, and_(Remix.play_count == plays, newer))


@router.get("/tracks/{track_id}/remixes/published", response_model=RemixFeed, responses=_ERRORS)
def published_remixes(
    track_id: str,
    db: SessionDep,
    user: CurrentUser,
    sort: FeedSort = FeedSort.NEWEST,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> RemixFeed:
    """Other fans' published remixes of the track (yours too), newest first or most played
    first (ties newest first), with their play counts; `next_cursor` fetches the next page.

    For listeners entitled to the track: a free account gets 403 with how to upgrade."""
    track = get_visible_track(db, user, track_id)
    require_entitled(user, track)
    query = _remix_query().where(
        Remix.track_id == track.id, Remix.status == RemixStatus.PUBLISHED.value
    )
    if cursor:
        query = query.where(_after(sort, _decode_cursor(cursor, sort)))
    order: list[ColumnElement[Any]] = [Remix.created_at.desc(), Remix.id.desc()]
    if sort == FeedSort.MOST_PLAYED:
        order.insert(0, Remix.play_count.desc())
    rows = db.scalars(query.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    more = len(rows) > limit
    return RemixFeed(
        remixes=[remix_info(r) for r in page],
        next_cursor=_encode_cursor(sort, page[-1]) if more and page else None,
    )


def _heard_remix(db: Session, user: User, remix_id: str, doing: str) -> Remix:
    """A published remix the caller may hear (the audio route's rule), else 404/403/409."""
    remix = _get_remix(db, remix_id)
    if remix is None or not _may_view(user, remix):
        raise _remix_not_found(remix_id)
    if user.id not in (remix.user_id, remix.track.artist_user_id):
        require_entitled(user, remix.track)
    if remix.status != RemixStatus.PUBLISHED.value:
        raise ApiError(
            409,
            "not_published",
            f"'{remix.title}' is {remix.status.replace('_', ' ')}, not published: only a "
            f"published remix can be {doing}.",
        )
    return remix


@router.post("/remixes/{remix_id}/plays", response_model=PlayCount, responses=_ERRORS)
def play_remix(remix_id: str, db: SessionDep, user: CurrentUser, clock: ClockDep) -> PlayCount:
    """A listener played the remix. Counted at most once per listener per remix per UTC day
    (a repeat, or a concurrent duplicate, answers the same count with `counted` false); the
    remix's creator playing it is not counted."""
    remix = _heard_remix(db, user, remix_id, "counted as played")
    counted = record_play(db, remix, user, clock.now())
    return PlayCount(remix_id=remix_id, plays=play_count(db, remix_id), counted=counted)


@router.post("/remixes/{remix_id}/fork", response_model=RemixDocument, responses=_ERRORS)
def fork_remix(remix_id: str, db: SessionDep, user: CurrentUser) -> RemixDocument:
    """ "Remix this remix": the published remix's recipe as the start of a new remix, with
    `inspired_by` naming it and a new title. Nothing is stored: the studio keeps it as a draft,
    and submitting it credits the original remixer (disclosure and split)."""
    remix = _heard_remix(db, user, remix_id, "remixed")
    track = get_visible_track(db, user, remix.track_id)  # closed to remixes: like unknown
    require_entitled(user, track)
    try:
        return fork_document(remix, track)
    except ForkRefused as refused:
        raise ApiError(409, "track_changed", str(refused)) from None
