"""Passwords (argon2) and opaque bearer tokens.

Tokens are random strings, not JWTs: the database holds only their sha256, so logout and
revocation take effect at once and a leaked database holds no usable credentials.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from server.db import Token, User

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so response time does not reveal which
    usernames exist. Made on first use: hashing at import cost every platform start 130 ms."""
    return _hasher.hash("encore-not-a-password")


_REPLACED = "This session was signed out or replaced. Sign in again."

ACCESS = "access"
REFRESH = "refresh"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class HashingBusy(Exception):
    """Every hashing slot is taken and the queue is full: answer 503 now rather than wait."""


class HashGate:
    """Bounds the memory sign-ins can take: argon2 needs 64 MiB per hash in flight.

    Unbounded, 100 parallel sign-ins pushed the platform to 1.3 GB. At most `slots` hashes run
    at once (one per core: more adds memory, not throughput), at most `queue` sign-ins wait for
    a slot (each waiting holds a server thread), and none waits longer than `wait` seconds.
    """

    def __init__(self, slots: int, queue: int, wait: float) -> None:
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._queue = max(0, queue)
        self._wait = wait
        self._waiting = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a hashing slot for the block, or raise `HashingBusy`."""
        with self._lock:
            if self._waiting >= self._queue + 1:  # +1: the caller itself may take a free slot
                raise HashingBusy
            self._waiting += 1
        try:
            acquired = self._slots.acquire(timeout=self._wait)
        finally:
            with self._lock:
                self._waiting -= 1
        if not acquired:
            raise HashingBusy
        try:
            yield
        finally:
            self._slots.release()


def authenticate(
    db: Session, username: str, password: str, gate: HashGate | None = None
) -> User | None:
    """The user whose password this is, or None. Raises `HashingBusy` from a full `gate`.

    The user is looked up first (no slot held for a database round trip); the hash always runs,
    against a dummy for unknown usernames, so timing does not tell which exist.
    """
    user = db.scalar(select(User).where(User.username == username))
    with gate.slot() if gate is not None else nullcontext():
        if user is None:
            verify_password(_dummy_hash(), password)
            return None
        if not verify_password(user.password_hash, password):
            return None
        rehash = hash_password(password) if _hasher.check_needs_rehash(user.password_hash) else None
    if rehash is not None:
        user.password_hash = rehash
        db.commit()
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def issue_tokens(
    db: Session,
    user_id: int,
    access_ttl: int,
    refresh_ttl: int,
    *,
    now: datetime,
    session_id: str | None = None,
) -> IssuedTokens:
    """A fresh access+refresh pair for one sign-in session (`session_id` survives refreshes),
    expiring `access_ttl`/`refresh_ttl` seconds after `now` (the platform's clock)."""
    session_id = session_id or uuid.uuid4().hex
    access = "ea_" + secrets.token_urlsafe(32)
    refresh = "er_" + secrets.token_urlsafe(32)
    db.add_all(
        [
            Token(
                token_hash=hash_token(access),
                kind=ACCESS,
                user_id=user_id,
                session_id=session_id,
                expires_at=now + timedelta(seconds=access_ttl),
            ),
            Token(
                token_hash=hash_token(refresh),
                kind=REFRESH,
                user_id=user_id,
                session_id=session_id,
                expires_at=now + timedelta(seconds=refresh_ttl),
            ),
        ]
    )
    db.commit()
    return IssuedTokens(access, refresh, access_ttl)


class TokenProblem(Exception):
    """Why a presented token was refused; `code` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def find_token(db: Session, token: str, kind: str, *, now: datetime) -> Token:
    """The live token row, or `TokenProblem`; expired when `now` (the platform's clock) has
    reached its expiry."""
    row = db.scalar(
        select(Token)
        .where(Token.token_hash == hash_token(token), Token.kind == kind)
        .options(joinedload(Token.user))  # every caller needs the user: one query, not two
    )
    if row is None:
        raise TokenProblem("invalid_token", "This sign-in is not valid. Sign in again.")
    if row.revoked:
        raise TokenProblem("invalid_token", _REPLACED)
    if row.expires_at <= now:
        raise TokenProblem("token_expired", "Your session has expired. Sign in again.")
    return row


def revoke_session(db: Session, session_id: str) -> None:
    db.execute(update(Token).where(Token.session_id == session_id).values(revoked=True))
    db.commit()


def rotate_refresh(
    db: Session, refresh_token: str, access_ttl: int, refresh_ttl: int, *, now: datetime
) -> IssuedTokens:
    """Trade a refresh token for a new pair; the old pair stops working.

    The old token is claimed with a conditional UPDATE so two concurrent refreshes with the same
    token cannot both succeed. Presenting an already-rotated token suggests it was stolen, so the
    whole session is revoked.
    """
    try:
        row = find_token(db, refresh_token, REFRESH, now=now)
    except TokenProblem:
        stale = db.scalar(select(Token).where(Token.token_hash == hash_token(refresh_token)))
        if stale is not None and stale.kind == REFRESH and stale.revoked:
            revoke_session(db, stale.session_id)
        raise
    claimed = db.execute(
        update(Token).where(Token.id == row.id, Token.revoked.is_(False)).values(revoked=True)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise TokenProblem("invalid_token", _REPLACED)
    db.execute(
        update(Token)
        .where(Token.session_id == row.session_id, Token.kind == ACCESS)
        .values(revoked=True)
    )
    db.commit()
    return issue_tokens(
        db, row.user_id, access_ttl, refresh_ttl, now=now, session_id=row.session_id
    )
