"""The artist side: policy editing, the review queue, reviews, takedowns, the audit log, and
the artist's own tracks with their review counts.

Only a track's own artist may use these for that track. Another artist gets 403 on a track they
can see (opted in) and 404 on one they cannot, exactly as for any other id they may not see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from fastapi import APIRouter
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, selectinload

from core.contract import (
    ArtistTrack,
    ArtistTrackList,
    AuditEntry,
    AuditLog,
    ErrorResponse,
    RemixInfo,
    RemixList,
    RemixStatus,
    ReviewDecision,
    ReviewRequest,
    RightsPolicy,
    TakedownRequest,
)
from server.db import AuditRecord, Remix, Track, User
from server.deps import ClockDep, CurrentUser, SessionDep
from server.errors import ApiError, error_responses
from server.routes.remixes import _remix_not_found, _remix_query, remix_info
from server.routes.tracks import _summary_fields, get_visible_track, is_owner, policy_of

router = APIRouter(tags=["artist"])

_ERRORS = error_responses(401, 403, 404, 409, 422)
_BODY_ERRORS = error_responses(401, 403, 404, 409, 422, 413)  # a body above the size limit


def owned_track(db: Session, user: User, track_id: str, doing: str) -> Track:
    track = get_visible_track(db, user, track_id)
    if not is_owner(user, track):
        raise ApiError(
            403,
            "not_track_artist",
            f"Only the artist of '{track.title}' can {doing}. Sign in as that artist.",
        )
    return track


def audit(
    db: Session,
    actor: User,
    action: str,
    track_id: str,
    *,
    remix_id: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str | None = None,
    at: datetime,
) -> None:
    db.add(
        AuditRecord(
            at=at,
            actor_user_id=actor.id,
            action=action,
            track_id=track_id,
            remix_id=remix_id,
            before=before,
            after=after,
            reason=reason,
        )
    )


def _check_policy_stems(policy: RightsPolicy, track: Track) -> None:
    stem_ids = [s.id for s in track.stems]
    for field in ("allowed_stems", "solo_forbidden_stems"):
        for stem_id in getattr(policy, field) or []:
            if stem_id not in stem_ids:
                raise ApiError(
                    422,
                    "invalid_policy",
                    f"{field} names stem '{stem_id}', which is not a stem of '{track.title}'. "
                    f"Its stems are: {', '.join(stem_ids)}.",
                )
    if policy.allowed_stems is not None and not policy.allowed_stems:
        raise ApiError(
            422,
            "invalid_policy",
            "No stem is allowed (allowed_stems is empty), so no remix could use anything. Allow "
            "at least one stem, or close the track to remixes (opted_in false).",
        )


@router.put("/tracks/{track_id}/policy", response_model=RightsPolicy, responses=_BODY_ERRORS)
def put_policy(
    track_id: str, policy: RightsPolicy, db: SessionDep, user: CurrentUser, clock: ClockDep
) -> RightsPolicy:
    """Replace the track's rights policy (the whole policy; omitted fields take defaults).

    Remixes already submitted are checked again against the new policy when they render.
    """
    track = owned_track(db, user, track_id, "change its remix policy")
    _check_policy_stems(policy, track)
    before = policy_of(track).model_dump(mode="json")
    after = policy.model_dump(mode="json")
    if before != after:
        track.policy = after
        audit(db, user, "policy_changed", track.id, before=before, after=after, at=clock.now())
        db.commit()
    return policy


@router.get("/tracks/{track_id}/remixes", response_model=RemixList, responses=_ERRORS)
def track_remixes(
    track_id: str, db: SessionDep, user: CurrentUser, status: RemixStatus | None = None
) -> RemixList:
    """The artist's review queue: every remix of the track (`?status=pending_approval` for the
    ones awaiting a decision), newest first."""
    track = owned_track(db, user, track_id, "see its remixes")
    query = _remix_query().where(Remix.track_id == track.id)
    if status is not None:
        query = query.where(Remix.status == status.value)
    remixes = db.scalars(query.order_by(Remix.created_at.desc(), Remix.id.desc())).all()
    return RemixList(remixes=[remix_info(r) for r in remixes])


def _artists_remix(db: Session, user: User, remix_id: str, act: str) -> Remix:
    """A remix of the caller's own track; others' unpublished remixes look like unknown ids."""
    remix = db.scalar(_remix_query().where(Remix.id == remix_id))
    if remix is None:
        raise _remix_not_found(remix_id)
    if not is_owner(user, remix.track):
        if remix.status != RemixStatus.PUBLISHED.value and remix.user_id != user.id:
            raise _remix_not_found(remix_id)
        raise ApiError(
            403,
            "not_track_artist",
            f"Only the artist of '{remix.track.title}' can {act} its remixes.",
        )
    return remix


@router.post("/remixes/{remix_id}/review", response_model=RemixInfo, responses=_BODY_ERRORS)
def review_remix(
    remix_id: str, review: ReviewRequest, db: SessionDep, user: CurrentUser, clock: ClockDep
) -> RemixInfo:
    """Approve (publish) or reject a remix that is pending the artist's approval."""
    remix = _artists_remix(db, user, remix_id, "review")
    reason = (review.reason or "").strip() or None
    if review.decision == ReviewDecision.REJECT and reason is None:
        raise ApiError(
            422,
            "reason_required",
            "Say why you are rejecting this remix (the 'reason' field): the creator sees it.",
        )
    if remix.status != RemixStatus.PENDING_APPROVAL.value:
        raise ApiError(
            409,
            "not_pending_approval",
            f"Remix '{remix_id}' is {remix.status.replace('_', ' ')}, not pending approval, so "
            "there is nothing to decide. Reload the review queue.",
        )
    before = {"status": remix.status}
    if review.decision == ReviewDecision.APPROVE:
        remix.status = RemixStatus.PUBLISHED.value
        remix.reason = None
        action = "remix_approved"
    else:
        remix.status = RemixStatus.REJECTED.value
        remix.reason = f"The artist did not approve this remix: {reason}"
        action = "remix_rejected"
    audit(
        db,
        user,
        action,
        remix.track_id,
        remix_id=remix.id,
        before=before,
        after={"status": remix.status},
        reason=reason,
        at=clock.now(),
    )
    db.commit()
    return remix_info(remix)


@router.post("/remixes/{remix_id}/takedown", response_model=RemixInfo, responses=_BODY_ERRORS)
def take_down_remix(
    remix_id: str, takedown: TakedownRequest, db: SessionDep, user: CurrentUser, clock: ClockDep
) -> RemixInfo:
    """Withdraw a published remix of the caller's track. From then on its audio is served to the
    artist only, and its creator sees the status and the reason; the audit log records it."""
    remix = _artists_remix(db, user, remix_id, "take down")
    reason = takedown.reason.strip()
    if not reason:
        raise ApiError(
            422,
            "reason_required",
            "Say why you are taking this remix down (the 'reason' field): its creator sees it.",
        )
    # Conditional, so two takedowns (or a takedown racing anything else) cannot both apply.
    # An UPDATE's result is a CursorResult: it counts the rows it changed.
    taken = cast(
        CursorResult[Any],
        db.execute(
            update(Remix)
            .where(Remix.id == remix.id, Remix.status == RemixStatus.PUBLISHED.value)
            .values(
                status=RemixStatus.TAKEN_DOWN.value,
                reason=f"The artist took this remix down: {reason}",
                updated_at=clock.now(),
            )
        ),
    )
    if taken.rowcount != 1:
        db.rollback()
        current = db.scalar(select(Remix.status).where(Remix.id == remix.id)) or remix.status
        raise ApiError(
            409,
            "not_published",
            f"'{remix.title}' is {current.replace('_', ' ')}, not published, so there is "
            "nothing to take down. Reload the review queue.",
        )
    audit(
        db,
        user,
        "remix_taken_down",
        remix.track_id,
        remix_id=remix.id,
        before={"status": RemixStatus.PUBLISHED.value},
        after={"status": RemixStatus.TAKEN_DOWN.value},
        reason=reason,
        at=clock.now(),
    )
    db.commit()
    db.refresh(remix, ["status", "reason", "updated_at"])
    return remix_info(remix)


@router.get("/me/tracks", response_model=ArtistTrackList, responses={401: {"model": ErrorResponse}})
def my_tracks(db: SessionDep, user: CurrentUser) -> ArtistTrackList:
    """The caller's own tracks (open to remixes or not), each with how many remixes wait for
    their review. Empty for an account that has no tracks."""
    tracks = db.scalars(
        select(Track)
        .where(Track.artist_user_id == user.id)
        .options(selectinload(Track.stems), selectinload(Track.artist))
        .order_by(Track.title, Track.id)
    ).all()
    waiting = dict(
        db.execute(
            select(Remix.track_id, func.count())
            .where(
                Remix.track_id.in_([t.id for t in tracks]),
                Remix.status == RemixStatus.PENDING_APPROVAL.value,
            )
            .group_by(Remix.track_id)
        ).all()
    )
    return ArtistTrackList(
        tracks=[
            ArtistTrack(**_summary_fields(t), awaiting_review=waiting.get(t.id, 0)) for t in tracks
        ]
    )


@router.get("/tracks/{track_id}/audit", response_model=AuditLog, responses=_ERRORS)
def track_audit(track_id: str, db: SessionDep, user: CurrentUser) -> AuditLog:
    """Policy changes, reviews and takedowns of the track, newest first."""
    track = owned_track(db, user, track_id, "see its audit log")
    rows = db.scalars(
        select(AuditRecord)
        .where(AuditRecord.track_id == track.id)
        .options(selectinload(AuditRecord.actor))
        .order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
    ).all()
    return AuditLog(
        entries=[
            AuditEntry(
                id=r.id,
                at=r.at,
                actor=r.actor.username,
                action=r.action,
                track_id=r.track_id,
                remix_id=r.remix_id,
                before=r.before,
                after=r.after,
                reason=r.reason,
            )
            for r in rows
        ]
    )
