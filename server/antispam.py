"""Anti-spam for submissions: a daily quota, exact duplicates and near duplicates.

* Quota: `Settings.daily_quota` stored submissions per user per UTC day (429 until midnight UTC).
* Exact duplicate: the same `canonical_hash` (see `pipeline.canonical_hash`: title, description
  and AI declaration excluded, defaults filled) as any live (not rejected) remix of the track.
* Near duplicate: same track version, the same audible stems, the same mute/solo flags, tempo
  ratio within 1 %, the same key shift and the same other settings, and every audible stem's
  gain within 1 dB of the other remix's once both are aligned to their loudest stem (the
  published render is loudness-normalised, so a uniform offset is inaudible). Pan is ignored.

Both duplicate rules compare against every creator's remixes: copying someone else's recipe is
as much a duplicate as resubmitting your own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.contract import RemixDocument, RemixStatus, StemSettings
from server.db import Remix, User, utcnow
from server.errors import ApiError
from server.pipeline import other_transformations

NEAR_GAIN_DB = 1.0
NEAR_TEMPO = 0.01


def next_utc_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def check_quota(db: Session, user: User, quota: int, now: datetime | None = None) -> None:
    now = now or utcnow()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = db.scalar(
        select(func.count())
        .select_from(Remix)
        .where(Remix.user_id == user.id, Remix.created_at >= day_start)
    )
    if (used or 0) < quota:
        return
    reset = next_utc_midnight(now)
    wait = reset - now
    hours, minutes = divmod(int(wait.total_seconds()) // 60, 60)
    raise ApiError(
        429,
        "daily_quota_exceeded",
        f"You have submitted {used} remixes today, the daily limit of {quota}. You can submit "
        f"again after {reset:%Y-%m-%d %H:%M} UTC (in {hours} h {minutes} min).",
        headers={"Retry-After": str(max(1, int(wait.total_seconds())))},
    )


def _describe(existing: Remix, user: User) -> str:
    if existing.user_id == user.id:
        return f"your remix '{existing.title}' ({existing.id})"
    if existing.status == RemixStatus.PUBLISHED.value:
        by = existing.user.display_name
        return f"the published remix '{existing.title}' ({existing.id}) by {by}"
    return "a remix another creator submitted earlier"


def _shape(doc: RemixDocument, audible: list[str]) -> tuple:
    settings = {s: doc.stems.get(s, StemSettings()) for s in audible}
    flags = tuple(sorted((s, v.mute, v.solo) for s, v in doc.stems.items() if v.mute or v.solo))
    doc_level, per_stem = other_transformations(doc)
    return (
        doc.track_version,
        tuple(audible),
        flags,
        doc.key_shift,
        repr(sorted(doc_level.items())),
        repr(sorted((k, sorted(v.items())) for k, v in per_stem.items() if k in settings)),
    )


def _relative_gains(doc: RemixDocument, audible: list[str]) -> list[float]:
    gains = [doc.stems.get(s, StemSettings()).gain_db for s in audible]
    top = max(gains)
    return [g - top for g in gains]


def check_duplicates(
    db: Session,
    user: User,
    doc: RemixDocument,
    canonical: str,
    audible: list[str],
) -> None:
    """Raise 409 naming the existing remix when `doc` duplicates a live remix of its track."""
    live = db.scalars(
        select(Remix)
        .where(Remix.track_id == doc.track_id, Remix.status != RemixStatus.REJECTED.value)
        .order_by(Remix.created_at)
    ).all()
    for existing in live:
        if existing.canonical_hash == canonical:
            raise ApiError(
                409,
                "duplicate_remix",
                f"This recipe is identical to {_describe(existing, user)}. Change the mix "
                "(titles and descriptions do not count) before submitting it as a new remix.",
            )
    shape = _shape(doc, audible)
    gains = _relative_gains(doc, audible)
    for existing in live:
        try:
            other = RemixDocument.model_validate(existing.document)
        except ValueError:
            continue
        # Equal mute/solo flags over the same track mean the same audible stems.
        if _shape(other, audible) != shape:
            continue
        if abs(other.tempo_ratio - doc.tempo_ratio) >= NEAR_TEMPO:
            continue
        other_gains = _relative_gains(other, audible)
        worst = max(abs(a - b) for a, b in zip(gains, other_gains, strict=True))
        if worst < NEAR_GAIN_DB:
            raise ApiError(
                409,
                "near_duplicate_remix",
                f"This remix sounds almost the same as {_describe(existing, user)}: the same "
                f"stems, mutes, tempo and key, and every stem's level within {NEAR_GAIN_DB:g} dB "
                f"(the largest difference is {worst:.2f} dB). Make a clearer change before "
                "submitting it as a new remix.",
            )
