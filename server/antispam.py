"""Anti-spam for submissions: a daily quota, exact duplicates and near duplicates.

* Quota: `Settings.daily_quota` stored submissions per user per UTC day (429 until midnight UTC).
* Exact duplicate: the same `canonical_hash` (see `pipeline.canonical_hash`: title, description
  and AI declaration excluded, defaults filled) as any live (not rejected) remix of the track.
* Near duplicate: same track version, the same audible stems, the same mute/solo flags, tempo
  ratio within 1 %, the same key shift and the same other settings, and every audible stem's
  gain within 1 dB of the other remix's once both are aligned to their loudest stem (the
  published render is loudness-normalised, so a uniform offset is inaudible). Pan is ignored.

Both duplicate rules compare against every creator's remixes: copying someone else's recipe is
as much a duplicate as resubmitting your own. Both are index look-ups: the canonical hash; the
near-duplicate shape with a tempo range and a mean-level range (`ix_remixes_near`), so only
remixes of the same shape, a tempo within 1 % and a mean level within 1 dB are read and compared
(`benchmarks/duplicates.py`: 10 or 10 000 stored remixes cost the same unless thousands share
the new one's shape and tempo, the rule's worst case). Both run under `lock_for_submission`, so
submissions at the same instant are checked one after another.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.contract import RemixDocument, RemixStatus, StemSettings
from core.remix import audible_stems
from server.db import Remix, Track, User
from server.errors import ApiError
from server.pipeline import other_transformations

NEAR_GAIN_DB = 1.0
NEAR_TEMPO = 0.01


def next_utc_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def check_quota(db: Session, user: User, quota: int, *, now: datetime) -> None:
    """429 when `user` stored `quota` remixes on `now`'s UTC day (`now`: the platform's clock,
    which also stamps each remix's `created_at`)."""
    now = now.astimezone(UTC)
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


def near_key(doc: RemixDocument, audible: list[str]) -> tuple[str, dict[str, Any]]:
    """(shape hash, {tempo, gains}): what the near-duplicate rule compares, stored with the
    remix. Remixes can only be near duplicates when their shapes are equal, so the check looks
    up equal shapes by index and compares a few numbers."""
    shape = hashlib.sha256(repr(_shape(doc, audible)).encode()).hexdigest()
    return shape, {"tempo": doc.tempo_ratio, "gains": _relative_gains(doc, audible)}


def lock_for_submission(db: Session, user: User, track_id: str) -> None:
    """Serialise submissions by the same user and to the same track until this transaction ends,
    so the quota and the duplicate rules see every earlier submission: concurrent requests
    cannot all count 19 of 20, or each miss the other's near-identical remix. A no-op UPDATE
    takes the user's and the track's row locks on PostgreSQL and the write lock on SQLite;
    always user first, then track, so two submissions never wait on each other in a circle."""
    db.execute(update(User).where(User.id == user.id).values(id=User.id))
    db.execute(update(Track).where(Track.id == track_id).values(id=Track.id))


def check_duplicates(
    db: Session,
    user: User,
    doc: RemixDocument,
    canonical: str,
    audible: list[str],
    usable: list[str],
) -> tuple[str, dict[str, Any]]:
    """Raise 409 naming the existing remix when `doc` duplicates a live remix of its track;
    else return its near-duplicate key (stored with the remix)."""
    live = (Remix.track_id == doc.track_id) & (Remix.status != RemixStatus.REJECTED.value)
    existing = db.scalar(
        select(Remix).where(live, Remix.canonical_hash == canonical).order_by(Remix.created_at)
    )
    if existing is not None:
        raise ApiError(
            409,
            "duplicate_remix",
            f"This recipe is identical to {_describe(existing, user)}. Change the mix "
            "(titles and descriptions do not count) before submitting it as a new remix.",
        )
    shape, mine = near_key(doc, audible)
    _key_unkeyed(db, doc.track_id, usable)
    level = _level(mine)
    # Near duplicates share the shape, and their tempo and mean level are within the rule's
    # bounds (each gain within 1 dB puts the means within 1 dB): an index range, read from the
    # index; only the few remixes it yields have their gains compared.
    candidates = db.execute(
        select(Remix.id, Remix.near_key)
        .where(
            live,
            Remix.shape_hash == shape,
            Remix.near_tempo > mine["tempo"] - NEAR_TEMPO,
            Remix.near_tempo < mine["tempo"] + NEAR_TEMPO,
            Remix.near_level > level - NEAR_GAIN_DB,
            Remix.near_level < level + NEAR_GAIN_DB,
        )
        .order_by(Remix.created_at)
    ).all()
    for remix_id, theirs in candidates:
        worst = max(abs(a - b) for a, b in zip(mine["gains"], theirs["gains"], strict=True))
        if worst < NEAR_GAIN_DB:
            existing = db.get(Remix, remix_id)
            assert existing is not None
            raise ApiError(
                409,
                "near_duplicate_remix",
                f"This remix sounds almost the same as {_describe(existing, user)}: the same "
                f"stems, mutes, tempo and key, and every stem's level within {NEAR_GAIN_DB:g} dB "
                f"(the largest difference is {worst:.2f} dB). Make a clearer change before "
                "submitting it as a new remix.",
            )
    return shape, mine


def near_columns(near: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """What a remix stores for the near-duplicate look-up, from `near_key`'s (shape, key)."""
    shape, key = near
    return {
        "shape_hash": shape,
        "near_key": key,
        "near_tempo": key["tempo"],
        "near_level": _level(key),
    }


def _level(key: dict[str, Any]) -> float:
    gains = key["gains"]
    return sum(gains) / len(gains)


UNKEYABLE = "-"
"""The shape of a stored remix whose document no longer validates: nobody's near duplicate, and
not looked at again."""


def _key_unkeyed(db: Session, track_id: str, usable: list[str]) -> None:
    """Give the track's live remixes stored before near keys existed their key (once)."""
    unkeyed = db.scalars(
        select(Remix).where(
            Remix.track_id == track_id,
            Remix.shape_hash.is_(None),
            Remix.status != RemixStatus.REJECTED.value,
        )
    ).all()
    for remix in unkeyed:
        try:
            doc = RemixDocument.model_validate(remix.document)
        except ValueError:
            remix.shape_hash = UNKEYABLE
            continue
        audible = audible_stems(doc, usable)
        if not audible:
            remix.shape_hash = UNKEYABLE
            continue
        for column, value in near_columns(near_key(doc, audible)).items():
            setattr(remix, column, value)
