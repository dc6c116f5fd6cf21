"""Sign-in (OAuth2 password grant), refresh-token rotation and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.contract import ErrorResponse, RefreshRequest, TokenPair
from server.deps import AccessToken, SessionDep, SettingsDep, unauthorized
from server.errors import ApiError
from server.security import (
    IssuedTokens,
    TokenProblem,
    authenticate,
    issue_tokens,
    revoke_session,
    rotate_refresh,
)

router = APIRouter(prefix="/auth", tags=["auth"])

_401 = {401: {"model": ErrorResponse}}
# Endpoints with a body: it may be malformed (422) or above the size limit (413).
_BODY = {**_401, 413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post("/token", response_model=TokenPair, responses=_BODY)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: SessionDep,
    settings: SettingsDep,
) -> TokenPair:
    user = authenticate(db, form.username, form.password)
    if user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "Wrong username or password. Check both and try again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _pair(issue_tokens(db, user.id, settings.access_ttl, settings.refresh_ttl))


@router.post("/refresh", response_model=TokenPair, responses=_BODY)
def refresh(body: RefreshRequest, db: SessionDep, settings: SettingsDep) -> TokenPair:
    """Rotation: each refresh token works once, so a copied one is useless after the next use."""
    try:
        tokens = rotate_refresh(db, body.refresh_token, settings.access_ttl, settings.refresh_ttl)
    except TokenProblem as problem:
        raise unauthorized(problem.code, problem.message) from None
    return _pair(tokens)


@router.post("/logout", status_code=204, responses=_401)
def logout(token: AccessToken, db: SessionDep) -> Response:
    revoke_session(db, token.session_id)
    return Response(status_code=204)
