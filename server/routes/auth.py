"""Sign-in (OAuth2 password grant), refresh-token rotation and sign-out."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session

from core.contract import ErrorResponse, RefreshRequest, TokenPair
from server.clock import Clock
from server.config import Settings
from server.deps import (
    AccessToken,
    ClockDep,
    HashGateDep,
    SessionDep,
    SettingsDep,
    SignInThrottleDep,
    unauthorized,
)
from server.errors import ApiError, OpenApiResponses, error_responses
from server.security import (
    HashGate,
    HashingBusy,
    IssuedTokens,
    TokenProblem,
    authenticate,
    issue_tokens,
    revoke_session,
    rotate_refresh,
)
from server.threads import run_signin
from server.throttle import ACCOUNT, SignInThrottle, Throttled

router = APIRouter(prefix="/auth", tags=["auth"])

BUSY_RETRY_AFTER = 2  # seconds: a few argon2 hashes' time

_401 = error_responses(401)
# Endpoints with a body: it may be malformed (422) or above the size limit (413).
_BODY = error_responses(401, 413, 422)


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


_SIGN_IN: OpenApiResponses = {
    **_BODY,
    429: {
        "model": ErrorResponse,
        "description": "Too many failed sign-ins for this username or from this address; "
        "the Retry-After header says how many seconds to wait.",
    },
    503: {
        "model": ErrorResponse,
        "description": "Too many sign-ins at this moment; retry after Retry-After seconds.",
    },
}


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def throttled(problem: Throttled) -> ApiError:
    """The 429. Worded the same whether or not the username exists (it must not tell)."""
    who = "for this username" if problem.scope == ACCOUNT else "from your network address"
    return ApiError(
        429,
        "too_many_sign_ins",
        f"Too many failed sign-ins {who}. Wait {_wait_words(problem.retry_after)} and try "
        "again; if you forgot your password, ask the platform's operator to reset it.",
        headers={"Retry-After": str(problem.retry_after)},
    )


@router.post("/token", response_model=TokenPair, responses=_SIGN_IN)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    throttle: SignInThrottleDep,
    gate: HashGateDep,
    clock: ClockDep,
) -> TokenPair:
    """Sign in. Failed attempts are throttled per username and per client address
    (server/throttle.py); password hashing is bounded (security.HashGate), on the sign-ins' own
    threads (server/threads.py)."""
    return await run_signin(
        request, lambda: _login(form, request, db, settings, throttle, gate, clock)
    )


def _login(
    form: OAuth2PasswordRequestForm,
    request: Request,
    db: Session,
    settings: Settings,
    throttle: SignInThrottle,
    gate: HashGate,
    clock: Clock,
) -> TokenPair:
    address = request.client.host if request.client else "unknown"
    try:
        attempt = throttle.admit(form.username, address)
    except Throttled as problem:
        raise throttled(problem) from None
    try:
        user = authenticate(db, form.username, form.password, gate)
    except HashingBusy:
        throttle.cancel(attempt)
        raise ApiError(
            503,
            "busy",
            "The platform is signing in many people right now. Try again in a moment.",
            headers={"Retry-After": str(BUSY_RETRY_AFTER)},
        ) from None
    except BaseException:
        throttle.cancel(attempt)  # never checked: not a failure
        raise
    if user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "Wrong username or password. Check both and try again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(attempt)
    return _pair(
        issue_tokens(db, user.id, settings.access_ttl, settings.refresh_ttl, now=clock.now())
    )


@router.post("/refresh", response_model=TokenPair, responses=_BODY)
def refresh(
    body: RefreshRequest, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> TokenPair:
    """Rotation: each refresh token works once, so a copied one is useless after the next use."""
    try:
        tokens = rotate_refresh(
            db, body.refresh_token, settings.access_ttl, settings.refresh_ttl, now=clock.now()
        )
    except TokenProblem as problem:
        raise unauthorized(problem.code, problem.message) from None
    return _pair(tokens)


@router.post("/logout", status_code=204, responses=_401)
def logout(token: AccessToken, db: SessionDep) -> Response:
    revoke_session(db, token.session_id)
    return Response(status_code=204)
