"""Play counts: a listener counts at most once per remix per UTC day.

The unique constraint on (remix, listener, day) decides, not a look-up first: two play events
racing each other (a double click, a retry after a dropped answer, two devices) both try to
insert and exactly one row exists afterwards, on SQLite and PostgreSQL alike. The remix's
`play_count` rises in the same transaction as the row it counts, so the two never disagree.
A remix's own creator playing it is not counted (a count of other people listening).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import Remix, RemixPlay, User


def record_play(db: Session, remix: Remix, user: User, now: datetime) -> bool:
    """Count `user` playing `remix` on `now`'s UTC day; whether this added a play. Commits."""
    if user.id == remix.user_id:
        return False
    at = now.astimezone(UTC)
    db.add(RemixPlay(remix_id=remix.id, user_id=user.id, day=at.date(), at=at))
    try:
        db.flush()  # the constraint decides here: a repeat fails before the count moves
    except IntegrityError:
        db.rollback()  # nothing else is pending in this request's transaction
        return False
    db.execute(update(Remix).where(Remix.id == remix.id).values(play_count=Remix.play_count + 1))
    db.commit()
    return True


def play_count(db: Session, remix_id: str) -> int:
    return db.scalar(select(Remix.play_count).where(Remix.id == remix_id)) or 0
