"""Signed-in devices: one per sign-in session, each with the key id its stems are sealed under.

A device is recorded the first time its session asks for its key or a stem, named by what the
studio calls itself (its User-Agent). Its key is rotated after `KEY_MAX_AGE` (the studio then
refills its cache under the new one) and is never derived again once the session is signed out,
or the account owner revokes the device from another one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.text import refused_character
from server.db import Device, Token
from server.security import REFRESH, revoke_session

KEY_MAX_AGE = timedelta(days=30)
SEEN_EVERY = timedelta(minutes=1)
NAME_LENGTH = 120


def device_name(user_agent: str | None) -> str:
    """A printable name from the User-Agent (the header is the caller's text)."""
    text = (user_agent or "").strip()
    if not text or refused_character(text) is not None:
        return "Unknown device"
    return text[:NAME_LENGTH]


def _new_key_id() -> str:
    return secrets.token_hex(16)


def current_device(db: Session, token: Token, user_agent: str | None, *, now: datetime) -> Device:
    """The device of this access token's session, recorded and keyed on first use, its key
    rotated when it is older than `KEY_MAX_AGE` at `now` (the platform's clock). The token is
    live (checked by the caller), so the session is not signed out."""
    device = db.get(Device, token.session_id)
    if device is None:
        device = Device(
            session_id=token.session_id,
            user_id=token.user_id,
            name=device_name(user_agent),
            created_at=now,
            last_seen_at=now,
            key_id=_new_key_id(),
            key_created_at=now,
        )
        db.add(device)
        try:
            db.commit()
        except IntegrityError:  # the same session's other request recorded it first
            db.rollback()
            device = db.get(Device, token.session_id)
            assert device is not None
        return device
    if device.key_created_at + KEY_MAX_AGE <= now:
        device.key_id, device.key_created_at = _new_key_id(), now
    elif device.last_seen_at + SEEN_EVERY > now:
        return device  # no write per request: "last used" is to the minute
    device.last_seen_at = now
    db.commit()
    return device


def rotates_at(device: Device) -> datetime:
    return device.key_created_at + KEY_MAX_AGE


def signed_in_devices(db: Session, user_id: int, *, now: datetime) -> list[Device]:
    """The account's devices whose sessions can still be used (a refresh token live at `now`)."""
    live = select(Token.session_id).where(
        Token.user_id == user_id,
        Token.kind == REFRESH,
        Token.revoked.is_(False),
        Token.expires_at > now,
    )
    rows = db.scalars(
        select(Device)
        .where(Device.user_id == user_id, Device.revoked.is_(False), Device.session_id.in_(live))
        .order_by(Device.last_seen_at.desc())
    )
    return list(rows)


def revoke_device(db: Session, user_id: int, device_id: str) -> bool:
    """Sign the device out and retire its key; False when the account has no such device."""
    device = db.get(Device, device_id)
    if device is None or device.user_id != user_id:
        return False
    device.revoked = True
    db.commit()
    revoke_session(db, device_id)
    return True
