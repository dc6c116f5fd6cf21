"""The signed-in account."""

from __future__ import annotations

from fastapi import APIRouter

from app.contract import Account, ErrorResponse, Role, Tier
from server.db import User
from server.deps import CurrentUser

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
