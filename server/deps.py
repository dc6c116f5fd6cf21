"""Typed FastAPI dependencies: the database session, settings, and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from server.clock import Clock
from server.config import Settings
from server.db import Token, User
from server.errors import ApiError
from server.security import ACCESS, HashGate, TokenProblem, find_token
from server.storage import Storage
from server.throttle import SignInThrottle

# auto_error=False: a missing token must produce our error shape, not FastAPI's default body.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Dependencies that only read app.state are `async def`: FastAPI runs a plain `def` dependency
# in the thread pool, a hop (and a wait for a pool thread under load) per dependency per request.


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Clock:
    """The platform's clock (server/clock.py): every time-of-day rule reads it."""
    return request.app.state.clock


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


async def get_signin_throttle(request: Request) -> SignInThrottle:
    return request.app.state.signin_throttle


async def get_hash_gate(request: Request) -> HashGate:
    return request.app.state.hash_gate


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SignInThrottleDep = Annotated[SignInThrottle, Depends(get_signin_throttle)]
HashGateDep = Annotated[HashGate, Depends(get_hash_gate)]
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=BEARER_CHALLENGE)


def get_access_token(db: SessionDep, clock: ClockDep, token: BearerToken) -> Token:
    return access_token_in(db, clock, token)


def access_token_in(db: Session, clock: Clock, token: str | None) -> Token:
    """The live access token presented (its user loaded), or the 401 that says why not. For
    routes that do all their database work in one thread-pool call, as for the dependency."""
    if not token:
        raise unauthorized(
            "invalid_token", "Sign in first: this request needs an 'Authorization: Bearer' token."
        )
    try:
        return find_token(db, token, ACCESS, now=clock.now())
    except TokenProblem as problem:
        raise unauthorized(problem.code, problem.message) from None


AccessToken = Annotated[Token, Depends(get_access_token)]


async def get_current_user(token: AccessToken) -> User:
    """The token's user, loaded with it (security.find_token): no database work here."""
    return token.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_optional_user(db: SessionDep, clock: ClockDep, token: BearerToken) -> User | None:
    """For resources that are public once published: no token means anonymous, a bad one is 401."""
    if not token:
        return None
    return get_access_token(db, clock, token).user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
