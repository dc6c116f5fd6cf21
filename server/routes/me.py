"""The signed-in account."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.contract import Account, ContentKey, ErrorResponse, Role, Tier
from server.db import User
from server.deps import CurrentUser
from server.secrets_store import content_key

router = APIRouter(tags=["account"])


def account_of(user: User) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        tier=Tier(user.tier),
        roles=[Role(r) for r in user.role_list],
        diagnostics=user.diagnostics,
    )


@router.get("/me", response_model=Account, responses={401: {"model": ErrorResponse}})
def me(user: CurrentUser) -> Account:
    return account_of(user)


@router.get("/me/content-key", response_model=ContentKey, responses={401: {"model": ErrorResponse}})
def my_content_key(user: CurrentUser, request: Request) -> ContentKey:
    """The caller's cache key: the same on every call and across platform restarts."""
    return ContentKey(key=content_key(request.app.state.secret, user.id))
