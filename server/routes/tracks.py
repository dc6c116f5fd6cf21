"""The catalog: tracks opted in to remixing, their stems, and stem audio for entitled fans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool

from core.contract import (
    Analysis,
    ErrorResponse,
    RightsPolicy,
    Section,
    StemInfo,
    StemKind,
    Tier,
    TrackDetail,
    TrackList,
    TrackSummary,
)
from server.db import Stem, Track, User
from server.delivery import DeliveryLimited
from server.deps import (
    AccessToken,
    BearerToken,
    ClockDep,
    SessionDep,
    StorageDep,
    access_token_in,
)
from server.devices import current_device
from server.errors import ApiError, not_found
from server.sealing import SEALED_MEDIA_TYPE, device_key, sealed_response

router = APIRouter(prefix="/tracks", tags=["tracks"])

UPGRADE_MESSAGE = "Stems are part of the Superfan tier. Upgrade to Superfan to remix this track."
NOT_OPTED_IN_MESSAGE = "The artist has not opened this track for remixing yet."


def policy_of(track: Track) -> RightsPolicy:
    return RightsPolicy.model_validate(track.policy or {})


def is_owner(user: User | None, track: Track) -> bool:
    return user is not None and user.id == track.artist_user_id


def entitlement_problem(user: User, track: Track) -> str | None:
    """Why `user` may not stream or remix `track`'s stems, or None when they may."""
    if is_owner(user, track):
        return None
    if not policy_of(track).opted_in:
        return NOT_OPTED_IN_MESSAGE
    if user.tier != Tier.SUPERFAN:
        return UPGRADE_MESSAGE
    return None


def require_entitled(user: User, track: Track) -> None:
    problem = entitlement_problem(user, track)
    if problem is not None:
        raise ApiError(403, "not_entitled", problem)


def get_visible_track(db: Session, user: User, track_id: str) -> Track:
    """A track the caller may see: opted in, or their own. Others look exactly like unknown ids."""
    track = db.scalar(
        select(Track)
        .where(Track.id == track_id)
        .options(selectinload(Track.stems), selectinload(Track.artist))
    )
    if track is None or not (policy_of(track).opted_in or is_owner(user, track)):
        raise not_found("track", track_id)
    return track


def track_duration(track: Track) -> float:
    return max((s.duration for s in track.stems), default=0.0)


def _summary_fields(track: Track) -> dict:
    return {
        "id": track.id,
        "version": track.version,
        "title": track.title,
        "artist": track.artist.display_name,
        "duration": track_duration(track),
        "bpm": track.bpm,
        "key": track.key,
        "opted_in": policy_of(track).opted_in,
        "stem_count": len(track.stems),
    }


def _kind(kind: str) -> StemKind:
    try:
        return StemKind(kind)
    except ValueError:
        return StemKind.OTHER


def stem_info(stem: Stem) -> StemInfo:
    return StemInfo(
        id=stem.id,
        name=stem.name,
        kind=_kind(stem.kind),
        duration=stem.duration,
        format="flac",
        sample_rate=stem.sample_rate,
        channels=stem.channels,
        size=stem.size,
        sha256=stem.sha256,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag sent in If-None-Match is current."}
}


@router.get(
    "",
    response_model=TrackList,
    responses={401: {"model": ErrorResponse}, **_NOT_MODIFIED},
)
async def list_tracks(request: Request, token: BearerToken, q: str | None = None) -> Response:
    """The catalog the caller may see, cached per catalog revision (server/catalog_cache.py).

    The most requested route: its token check, revision read and body take one trip to the
    thread pool together (dependencies would take one each)."""
    return await run_in_threadpool(_cached_list, request, token, q)


def _cached_list(request: Request, token: str | None, q: str | None) -> Response:
    state = request.app.state
    with state.sessions() as db:
        user = access_token_in(db, state.clock, token).user
        key = state.catalog_cache.list_key(db, user, q)
        return state.catalog_cache.respond(request, key, lambda: _track_list(db, user, q))


def _track_list(db: Session, user: User, q: str | None) -> TrackList:
    query = (
        select(Track)
        .join(Track.artist)
        .options(selectinload(Track.stems), selectinload(Track.artist))
        .order_by(Track.title, Track.id)
    )
    if q and q.strip():
        pattern = f"%{_escape_like(q.strip())}%"
        query = query.where(
            or_(
                Track.title.ilike(pattern, escape="\\"),
                User.display_name.ilike(pattern, escape="\\"),
            )
        )
    tracks = [t for t in db.scalars(query).unique() if policy_of(t).opted_in or is_owner(user, t)]
    return TrackList(tracks=[TrackSummary(**_summary_fields(t)) for t in tracks])


@router.get(
    "/{track_id}",
    response_model=TrackDetail,
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, **_NOT_MODIFIED},
)
async def get_track(track_id: str, request: Request, token: BearerToken) -> Response:
    """A track's stems, analysis, policy and the caller's entitlement, cached per catalog
    revision and caller class (server/catalog_cache.py); one thread-pool trip, as the catalog."""
    return await run_in_threadpool(_cached_detail, request, token, track_id)


def _cached_detail(request: Request, token: str | None, track_id: str) -> Response:
    state = request.app.state
    with state.sessions() as db:
        user = access_token_in(db, state.clock, token).user
        key = state.catalog_cache.detail_key(db, user, track_id)
        return state.catalog_cache.respond(request, key, lambda: _track_detail(db, user, track_id))


def _track_detail(db: Session, user: User, track_id: str) -> TrackDetail:
    track = get_visible_track(db, user, track_id)
    problem = entitlement_problem(user, track)
    return TrackDetail(
        **_summary_fields(track),
        stems=[stem_info(s) for s in track.stems],
        analysis=Analysis(
            bpm=track.bpm,
            key=track.key,
            beats_per_bar=track.beats_per_bar,
            first_beat=track.first_beat,
            sections=[Section.model_validate(s) for s in track.sections or []],
        ),
        policy=policy_of(track),
        entitled=problem is None,
        entitlement_message=problem,
        owned=is_owner(user, track),
    )


@router.get(
    "/{track_id}/stems/{stem_id}/audio",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {SEALED_MEDIA_TYPE: {}},
            "description": "The stem sealed for the asking device (core/sealed.py's layout).",
        },
        206: {"content": {SEALED_MEDIA_TYPE: {}}, "description": "The requested byte range."},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        416: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
def stem_audio(
    track_id: str,
    stem_id: str,
    request: Request,
    db: SessionDep,
    token: AccessToken,
    storage: StorageDep,
    clock: ClockDep,
) -> StreamingResponse:
    """A stem, sealed under the asking device's key (never in the clear): see
    server/sealing.py and docs/threat-model.md. Ranges are over the sealed bytes."""
    user = token.user
    track = get_visible_track(db, user, track_id)
    require_entitled(user, track)
    stem = next((s for s in track.stems if s.id == stem_id), None)
    if stem is None:
        raise ApiError(
            404,
            "not_found",
            f"Track '{track_id}' has no stem '{stem_id}'. The track's stems are listed at "
            f"/v1/tracks/{track_id}.",
        )
    if not is_owner(user, track) and not policy_of(track).allows(stem.id):
        raise ApiError(
            403,
            "stem_locked",
            f"The artist keeps the {stem.name} stem out of remixes, so it is not streamed to "
            "fans. Remix the track's other stems.",
        )
    if not is_owner(user, track):
        try:
            request.app.state.delivery.admit(user.id, track.id, now=clock.monotonic())
        except DeliveryLimited as limited:
            minutes = max(1, round(limited.retry_after / 60))
            raise ApiError(
                429,
                "delivery_limit",
                f"You have streamed {limited.tracks} different tracks in the last hour, the most "
                f"Encore streams to one account. The tracks you have open keep streaming; new "
                f"ones open again in about {minutes} min.",
                headers={"Retry-After": str(limited.retry_after)},
            ) from None
    device = current_device(db, token, request.headers.get("user-agent"), now=clock.now())
    key = device_key(request.app.state.secret, device.key_id)
    return sealed_response(request, storage.path(stem.path), device.key_id, key, stem.sha256)
