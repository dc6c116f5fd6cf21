"""Remix submission (idempotent), status, listing and the published render."""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.contract import (
    Disclosure,
    ErrorDetail,
    ErrorResponse,
    RemixCheck,
    RemixDocument,
    RemixInfo,
    RemixList,
    RemixStatus,
    SplitStatement,
)
from core.links import remix_link
from core.remix import audible_stems
from server.antispam import check_duplicates, check_quota, lock_for_submission, near_columns
from server.config import Settings
from server.db import Remix, StemRightsholder, Track, User
from server.deps import (
    ClockDep,
    CurrentUser,
    OptionalUser,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from server.disclosure import build_disclosure
from server.errors import ApiError, error_responses
from server.lineage import credit_for, original_remixer, resolve_inspiration
from server.pipeline import canonical_hash, check_document, document_hash
from server.routes.tracks import entitlement_problem, is_owner, policy_of, require_entitled
from server.splits import split_statement
from server.storage import Storage, file_response

router = APIRouter(prefix="/remixes", tags=["remixes"])

_ERRORS = error_responses(400, 401, 403, 404, 409, 422)
_SUBMIT_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 413, 429)


def remix_info(remix: Remix) -> RemixInfo:
    return RemixInfo(
        id=remix.id,
        track_id=remix.track_id,
        title=remix.title,
        creator=remix.user.display_name,
        status=RemixStatus(remix.status),
        reason=remix.reason,
        created_at=remix.created_at,
        link=remix_link(remix.id),
        split=SplitStatement.model_validate(remix.split) if remix.split else None,
        disclosure=Disclosure.model_validate(remix.disclosure) if remix.disclosure else None,
        plays=remix.play_count or 0,
    )


PLATFORM_PARTY = "Encore (platform)"


class Attribution(NamedTuple):
    """What a submission stores besides the document: its identities for the duplicate rules,
    its split, its disclosure and the remix it was forked from."""

    canonical: str
    near: tuple[str, dict]
    split: SplitStatement
    disclosure: Disclosure
    original: Remix | None


def _split(
    db: Session,
    user: User,
    track: Track,
    settings: Settings,
    audible: list[str],
    original: Remix | None,
) -> SplitStatement:
    holders: dict[str, list[tuple[str, int]]] = {}
    for row in db.scalars(
        select(StemRightsholder)
        .where(StemRightsholder.track_id == track.id)
        .order_by(StemRightsholder.id)
    ):
        holders.setdefault(row.stem_id, []).append((row.party, row.share_bp))
    return split_statement(
        creator=user.display_name,
        creator_share=policy_of(track).creator_share,
        platform=PLATFORM_PARTY,
        platform_bp=settings.platform_share_bp,
        used_stems=audible,
        rightsholders=holders,
        default_rightsholder=track.artist.display_name,
        original_remixer=original_remixer(user, original),
    )


def _attribution(
    db: Session, user: User, doc: RemixDocument, track: Track, settings: Settings
) -> Attribution:
    """The lineage (a 422 when `inspired_by` names no published remix of the track), duplicate
    checks, then the canonical hash, the near-duplicate key, the split statement and the
    disclosure record. The rules judge the recipe: a fork that changes nothing is a duplicate of
    the remix it was forked from."""
    original = resolve_inspiration(db, user, doc)
    recipe = doc.recipe()
    policy = policy_of(track)
    stem_ids = [s.id for s in track.stems]
    usable = [s for s in stem_ids if policy.allows(s)]
    audible = audible_stems(recipe, usable)
    canonical = canonical_hash(recipe, stem_ids)
    near = check_duplicates(db, user, recipe, canonical, audible, usable)
    credit = credit_for(original) if original is not None else None
    return Attribution(
        canonical,
        near,
        _split(db, user, track, settings, audible, original),
        build_disclosure(doc, track, usable, audible, credit),
        original,
    )


def _remix_query() -> Select[Remix]:
    return select(Remix).options(
        selectinload(Remix.user), selectinload(Remix.track).selectinload(Track.artist)
    )


def _existing(db: Session, user: User, key: str) -> Remix | None:
    return db.scalar(_remix_query().where(Remix.user_id == user.id, Remix.idempotency_key == key))


def _replay(existing: Remix, doc_hash: str, response: Response) -> RemixInfo:
    """A retry with the same key gets the original answer; a different body is a client bug."""
    if existing.document_hash != doc_hash:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different remix document. Use a new key "
            "for a new submission (or resend the original document unchanged).",
        )
    response.status_code = 200
    return remix_info(existing)


def _track_for(db: Session, user: User, doc: RemixDocument) -> Track:
    """The document's track, when the caller may remix it."""
    track = db.scalar(
        select(Track)
        .where(Track.id == doc.track_id)
        .options(selectinload(Track.stems), selectinload(Track.artist))
    )
    if track is None or not (policy_of(track).opted_in or track.artist_user_id == user.id):
        raise ApiError(
            422,
            "unknown_track",
            f"track_id '{doc.track_id}' is not a track in the catalog. Check the id.",
        )
    require_entitled(user, track)
    return track


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:].rstrip(".") + "."


def _validated_track(db: Session, user: User, doc: RemixDocument, storage: Storage) -> Track:
    track = _track_for(db, user, doc)
    problems = check_document(doc.recipe(), track, policy_of(track), storage)
    if problems:
        message = "; ".join(p.message.rstrip(".") for p in problems)
        raise ApiError(422, problems[0].code, _sentence(message))
    return track


@router.post("/check", response_model=RemixCheck, responses=_SUBMIT_ERRORS)
def check_remix(
    doc: RemixDocument,
    db: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
    settings: SettingsDep,
) -> RemixCheck:
    """Every rule the document breaks, as `POST /v1/remixes` would refuse it, without
    submitting anything (no quota used). The same check, so the studio and the platform agree.
    With no problems it also says who the remix credits (`inspired_by`) and its split."""
    try:
        track = _track_for(db, user, doc)
    except ApiError as err:
        if err.status_code != 422:
            raise
        return RemixCheck(problems=[ErrorDetail(code=err.code, message=err.message)])
    problems = [
        ErrorDetail(code=p.code, message=_sentence(p.message))
        for p in check_document(doc.recipe(), track, policy_of(track), storage)
    ]
    original = None
    try:
        original = resolve_inspiration(db, user, doc)
    except ApiError as err:
        problems.append(ErrorDetail(code=err.code, message=err.message))
    policy = policy_of(track)
    usable = [s.id for s in track.stems if policy.allows(s.id)]
    audible = audible_stems(doc.recipe(), usable)
    if not problems:
        # A recipe already live (another fan's, or the remix a fork started from, unchanged)
        # is refused at submission: say so before, as for every other rule.
        recipe = doc.recipe()
        canonical = canonical_hash(recipe, [s.id for s in track.stems])
        try:
            check_duplicates(db, user, recipe, canonical, audible, usable)
        except ApiError as err:
            problems.append(ErrorDetail(code=err.code, message=err.message))
    return RemixCheck(
        problems=problems,
        inspired_by=credit_for(original) if original is not None else None,
        split=None
        if problems or not audible
        else _split(db, user, track, settings, audible, original),
    )


@router.post("", response_model=RemixInfo, status_code=201, responses=_SUBMIT_ERRORS)
def submit_remix(
    doc: RemixDocument,
    request: Request,
    response: Response,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> RemixInfo:
    """Accept a remix document; rendering happens afterwards (poll GET /v1/remixes/{id})."""
    now = clock.now()
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise ApiError(
            400,
            "idempotency_key_required",
            "Send an Idempotency-Key header (1–200 characters, e.g. a UUID generated once per "
            "submission) so a retried upload cannot publish the remix twice.",
        )
    doc_hash = document_hash(doc)
    existing = _existing(db, user, key)
    if existing is not None:
        return _replay(existing, doc_hash, response)
    try:
        check_quota(db, user, settings.daily_quota, now=now)  # a quick no before the work below
        track = _validated_track(db, user, doc, storage)
        lock_for_submission(db, user, track.id)  # then count and compare one at a time
        check_quota(db, user, settings.daily_quota, now=now)
        attribution = _attribution(db, user, doc, track, settings)
    except ApiError:
        # A concurrent request with the same key may have committed since the look-up above;
        # then this is its retry (and its own remix is no "duplicate"), not a rejection.
        db.rollback()
        existing = _existing(db, user, key)
        if existing is not None:
            return _replay(existing, doc_hash, response)
        raise
    remix = Remix(
        user_id=user.id,
        track_id=track.id,
        idempotency_key=key,
        title=doc.title,
        document=doc.model_dump(mode="json"),
        document_hash=doc_hash,
        canonical_hash=attribution.canonical,
        **near_columns(attribution.near),
        split=attribution.split.model_dump(mode="json"),
        disclosure=attribution.disclosure.model_dump(mode="json"),
        inspired_by_id=attribution.original.id if attribution.original is not None else None,
        status=RemixStatus.RECEIVED.value,
        created_at=now,  # the day the quota counts it in (the platform's clock)
        updated_at=now,
    )
    db.add(remix)
    try:
        request.app.state.pipeline.enqueue(db, remix)  # its render job commits with it
        db.commit()
    except IntegrityError:
        # A concurrent request won the race. With the same key this is its retry: answer as the
        # retry would. Otherwise it stored the same recipe (uq_remix_live_recipe): a duplicate.
        db.rollback()
        existing = _existing(db, user, key)
        if existing is not None:
            return _replay(existing, doc_hash, response)
        _attribution(db, user, doc, track, settings)  # raises 409 duplicate_remix naming it
        raise
    created = db.scalar(_remix_query().where(Remix.id == remix.id))
    assert created is not None
    return remix_info(created)


def _may_view(user: User | None, remix: Remix) -> bool:
    if remix.status == RemixStatus.PUBLISHED.value:
        return True
    return user is not None and user.id in (remix.user_id, remix.track.artist_user_id)


def _get_remix(db: Session, remix_id: str) -> Remix | None:
    return db.scalar(_remix_query().where(Remix.id == remix_id))


def _remix_not_found(remix_id: str) -> ApiError:
    return ApiError(
        404, "not_found", f"No remix with id '{remix_id}' that you can see. Check the link."
    )


@router.get("", response_model=RemixList, responses=_ERRORS)
def list_remixes(db: SessionDep, user: CurrentUser, mine: bool = True) -> RemixList:
    """The caller's remixes, newest first. Other fans' remixes are listed per track:
    `GET /v1/tracks/{track_id}/remixes/published`."""
    if not mine:
        raise ApiError(
            422,
            "use_track_feed",
            "Published remixes are listed per track: ask GET /v1/tracks/{track_id}/remixes/"
            "published (sort=newest or most_played). mine=1 lists your own remixes.",
        )
    remixes = db.scalars(
        _remix_query()
        .where(Remix.user_id == user.id)
        .order_by(Remix.created_at.desc(), Remix.id.desc())
    ).all()
    return RemixList(remixes=[remix_info(r) for r in remixes])


@router.get("/{remix_id}", response_model=RemixInfo, responses=_ERRORS)
def get_remix(remix_id: str, db: SessionDep, user: OptionalUser) -> RemixInfo:
    remix = _get_remix(db, remix_id)
    if remix is None or not _may_view(user, remix):
        raise _remix_not_found(remix_id)
    return remix_info(remix)


@router.get(
    "/{remix_id}/audio",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/flac": {}}, "description": "The published render (FLAC)."},
        206: {"content": {"audio/flac": {}}, "description": "The requested byte range."},
        **_ERRORS,
        410: {"model": ErrorResponse},
        416: {"model": ErrorResponse},
    },
)
def remix_audio(
    remix_id: str, request: Request, db: SessionDep, user: CurrentUser, storage: StorageDep
) -> StreamingResponse:
    remix = _get_remix(db, remix_id)
    if remix is None or not _may_view(user, remix):
        raise _remix_not_found(remix_id)
    is_party = user.id in (remix.user_id, remix.track.artist_user_id)
    if not is_party and entitlement_problem(user, remix.track) is not None:
        raise ApiError(
            403,
            "not_entitled",
            "Listening to fan remixes is part of the Superfan tier. Upgrade to Superfan to hear "
            "this remix.",
        )
    if remix.status == RemixStatus.TAKEN_DOWN.value and not is_owner(user, remix.track):
        # Withdrawn by the artist: only they still hear it (their record of what they took down).
        raise ApiError(
            410,
            "taken_down",
            f"The artist of '{remix.track.title}' took this remix down, so it is no longer "
            "played. Its page in My remixes says why.",
        )
    playable = (
        remix.status == RemixStatus.PUBLISHED.value
        or (remix.status == RemixStatus.PENDING_APPROVAL.value and is_party)  # under review
        or remix.status == RemixStatus.TAKEN_DOWN.value  # the artist, checked above
    )
    if remix.render_path is None or not playable:
        raise ApiError(
            404,
            "not_published",
            f"Remix '{remix_id}' is {remix.status.replace('_', ' ')}; its audio is available once "
            f"it is published. Check its status at /v1/remixes/{remix_id}.",
        )
    return file_response(request, storage.path(remix.render_path), "audio/flac")
