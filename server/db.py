"""Database engine, sessions and ORM models (SQLAlchemy 2).

SQLite by default (a file in the data dir) so the embedded platform needs no server; the URL is
configurable so the same models run on PostgreSQL. The schema is created and upgraded by the
Alembic migrations in server/migrations (`init_db`); change a model, add a revision.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Always-aware UTC datetimes: SQLite drops the zone, and comparing naive with aware fails."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str] = mapped_column(String(16))
    roles: Mapped[str] = mapped_column(String(64), default="fan")
    diagnostics: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def has_role(self, role: str) -> bool:
        return role in self.role_list


class Token(Base):
    """An opaque bearer token, stored only as its sha256 so a database leak yields no sessions."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "access" | "refresh"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class Device(Base):
    """A signed-in device: one sign-in session, the key its stems are sealed under, and what
    the account owner sees in "Signed-in devices". The key itself is derived from the platform
    secret and `key_id` (server/sealing.py): nothing here decrypts anything."""

    __tablename__ = "devices"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_id: Mapped[str] = mapped_column(String(32))
    key_created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Track(Base):
    __tablename__ = "tracks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    artist_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    bpm: Mapped[float] = mapped_column(Float)
    key: Mapped[str] = mapped_column(String(32))
    beats_per_bar: Mapped[int] = mapped_column(Integer, default=4)
    first_beat: Mapped[float] = mapped_column(Float, default=0.0)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    artist: Mapped[User] = relationship()
    stems: Mapped[list[Stem]] = relationship(
        back_populates="track", order_by="Stem.position", cascade="all, delete-orphan"
    )


class Stem(Base):
    """Keyed by (track, stem id) so stem ids only need to be unique within their track."""

    __tablename__ = "stems"

    track_id: Mapped[str] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500))  # relative to the data dir
    frames: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)

    track: Mapped[Track] = relationship(back_populates="stems")


LIVE_REMIX_SQL = "status != 'rejected'"


class Remix(Base):
    __tablename__ = "remixes"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_remix_user_key"),
        # One live remix per recipe and track, enforced by the database so that two concurrent
        # submissions of the same document (different keys, users or processes) cannot both
        # pass the duplicate check: the loser's INSERT fails and it is answered as a duplicate.
        # Partial (SQLite and PostgreSQL both support it): a rejected remix frees its recipe.
        Index(
            "uq_remix_live_recipe",
            "track_id",
            "canonical_hash",
            unique=True,
            sqlite_where=text(LIVE_REMIX_SQL),
            postgresql_where=text(LIVE_REMIX_SQL),
        ),
        # The near-duplicate look-up: remixes of one track and shape whose tempo is close, read
        # from the index alone with their mean level (server/antispam.py).
        Index("ix_remixes_near", "track_id", "shape_hash", "near_tempo", "near_level"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    track_id: Mapped[str] = mapped_column(ForeignKey("tracks.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    document_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    render_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The recipe's identity for duplicate detection: title/description excluded, defaults filled.
    canonical_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    split: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    disclosure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    loudness_lufs: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The render queue's bookkeeping (server/worker.py): tries so far (a worker that died
    # mid-render counts, so a remix that kills its renderer cannot crash-loop the platform),
    # which worker holds the current try (host:pid:token) and since when.
    render_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    render_worker: Mapped[str | None] = mapped_column(String(120), nullable=True)
    render_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The near-duplicate check's inputs (server/antispam.py), so it compares a few numbers of
    # the remixes that share this shape instead of re-validating every live document.
    shape_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    near_key: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Two numbers of the near key, so the near-duplicate look-up narrows in the index
    # (server/antispam.py): its tempo ratio and the mean of its stems' relative gains.
    near_tempo: Mapped[float | None] = mapped_column(Float, nullable=True)
    near_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "Remix this remix": the published remix of the same track this one was forked from,
    # checked on submission (server/lineage.py). No foreign key: remixes are never deleted
    # (they are rejected or taken down), and SQLite cannot add one to an existing table.
    inspired_by_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # Listeners counted (server/plays.py: one per listener per UTC day), kept on the remix so
    # the feed sorts by it; raised in the transaction that stores the RemixPlay.
    play_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship()
    track: Mapped[Track] = relationship()


class RemixPlay(Base):
    """One listener counted for one remix on one UTC day: the unique constraint makes the count
    exact however many times (or concurrently) a listener plays it that day."""

    __tablename__ = "remix_plays"
    __table_args__ = (UniqueConstraint("remix_id", "user_id", "day", name="uq_remix_play_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remix_id: Mapped[str] = mapped_column(ForeignKey("remixes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StemRightsholder(Base):
    """Who owns what share of one stem (basis points; a stem's rows sum to 10000)."""

    __tablename__ = "stem_rightsholders"
    __table_args__ = (UniqueConstraint("track_id", "stem_id", "party", name="uq_stem_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[str] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    stem_id: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(200))
    share_bp: Mapped[int] = mapped_column(Integer)


class AuditRecord(Base):
    """Append-only: policy changes and reviews, with who, when, and the before/after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    track_id: Mapped[str] = mapped_column(ForeignKey("tracks.id"), index=True)
    remix_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    actor: Mapped[User] = relationship()


class CatalogState(Base):
    """One row: the catalog's revision, raised in the same transaction as any change to a track,
    a stem or an artist's name (`_bump_catalog_revision`). The catalog and track-detail
    responses are cached per revision (server/catalog_cache.py); every API process reads it from
    the shared database, so a policy change in one invalidates the caches of all."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)


def catalog_revision(db: Session) -> int | None:
    """The catalog's current revision (None on a database without the row: do not cache)."""
    return db.scalar(select(CatalogState.revision).where(CatalogState.id == 1))


def _changes_catalog(session: Session) -> bool:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Track | Stem):
            return True
        if isinstance(obj, User) and inspect(obj).attrs.display_name.history.has_changes():
            return True  # the catalog shows artists' names
    return False


@event.listens_for(Session, "after_flush")
def _bump_catalog_revision(session: Session, _context: Any) -> None:
    """Every flush that changes a track, a stem or a name raises the revision with it (one
    transaction: a cache can never hold a response newer than its revision says)."""
    if _changes_catalog(session):
        session.connection().execute(
            update(CatalogState)
            .where(CatalogState.id == 1)
            .values(revision=CatalogState.revision + 1)
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run during the worker's writes; busy_timeout queues concurrent writers."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_private_file(path: Path) -> None:
    """Create `path` if missing, readable and writable by this user only (0600).

    The database holds password hashes, token hashes and every remix: it was world-readable
    (0644) under a default umask. SQLite gives its -wal and -shm files the database file's
    permissions, and existing files (from an older version) are tightened too.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


# Connections beyond the API's requests in flight: the render worker and the startup work.
SPARE_CONNECTIONS = 8


def make_engine(url: str, requests_in_flight: int = 32) -> Engine:
    """An engine with a connection for every request the API admits at once
    (server/admission.py), and a few spare: no request ever waits for a connection."""
    pool = {
        "pool_size": requests_in_flight,
        "max_overflow": SPARE_CONNECTIONS,
        "pool_timeout": 10,
    }
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            make_private_file(Path(database))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    # expire_on_commit=False: routes build responses from objects after committing.
    return sessionmaker(bind=engine, expire_on_commit=False)


SCHEMA_REVISION = "0008"
"""The newest migration (server/migrations/versions; tests/test_migrations.py checks it)."""


def init_db(engine: Engine) -> None:
    """Create or upgrade the schema with the Alembic migrations (server/migrations).

    A database already at SCHEMA_REVISION (every start but the first after an update) is left
    as it is without importing Alembic, which would add ~0.1 s to the platform's start and so to
    the studio's launch."""
    if _schema_revision(engine) == SCHEMA_REVISION:
        return
    from server.migrate import upgrade_to_head  # late: migrations import these models

    upgrade_to_head(engine)


def _schema_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no such table yet: a new database
        return None


__all__ = [
    "AuditRecord",
    "Base",
    "CatalogState",
    "Remix",
    "RemixPlay",
    "Stem",
    "StemRightsholder",
    "Token",
    "Track",
    "User",
    "catalog_revision",
    "init_db",
    "make_engine",
    "make_sessionmaker",
    "utcnow",
]
