"""The signed-in account."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response

from core.contract import Account, DeviceInfo, DeviceKey, DeviceList, ErrorResponse, Role, Tier
from server.db import User
from server.deps import AccessToken, ClockDep, CurrentUser, SessionDep
from server.devices import current_device, revoke_device, rotates_at, signed_in_devices
from server.errors import ApiError, error_responses
from server.sealing import device_key

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


_401 = error_responses(401)


@router.get("/me/device-key", response_model=DeviceKey, responses=_401)
def my_device_key(
    token: AccessToken, request: Request, db: SessionDep, clock: ClockDep
) -> DeviceKey:
    """This device's key for the stems sealed for it (server/sealing.py); rotated after
    30 days. Never handed out again once the device is signed out or revoked."""
    device = current_device(db, token, request.headers.get("user-agent"), now=clock.now())
    key = device_key(request.app.state.secret, device.key_id)
    return DeviceKey(
        key_id=device.key_id,
        key=base64.b64encode(key).decode("ascii"),
        rotates_at=rotates_at(device),
    )


@router.get("/me/devices", response_model=DeviceList, responses=_401)
def my_devices(token: AccessToken, db: SessionDep, clock: ClockDep) -> DeviceList:
    """Where the account is signed in, most recently used first."""
    return DeviceList(
        devices=[
            DeviceInfo(
                id=d.session_id,
                name=d.name,
                signed_in_at=d.created_at,
                last_seen_at=d.last_seen_at,
                current=d.session_id == token.session_id,
            )
            for d in signed_in_devices(db, token.user_id, now=clock.now())
        ]
    )


@router.delete(
    "/me/devices/{device_id}",
    status_code=204,
    responses=error_responses(401, 404),
)
def sign_out_device(device_id: str, token: AccessToken, db: SessionDep) -> Response:
    """Sign a device out: its session ends and its key is never derived again, so what it
    cached cannot be decrypted any more (revoking the asking device signs it out too)."""
    if not revoke_device(db, token.user_id, device_id):
        raise ApiError(
            404,
            "not_found",
            "No signed-in device of yours has that id. Reload the list of devices.",
        )
    return Response(status_code=204)
