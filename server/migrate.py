"""Bring the platform's database to the newest schema with Alembic (on every start).

Three starting points:

* an empty database: `upgrade head` creates everything;
* a database Alembic already manages: `upgrade head` applies what is new;
* a database made before migrations existed (`create_all` plus a stopgap that added nullable
  columns; e.g. an embedded platform's data dir from an earlier build): it is *adopted* — brought
  to the initial revision's schema (missing tables, nullable columns and indexes added), stamped
  at that revision, then upgraded like any other.

The migration scripts ship inside the package (`server/migrations`), so this works wherever the
package is installed; no alembic.ini is read. On PostgreSQL an advisory lock serialises platforms
that start at the same moment against one database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from server.db import Base

log = logging.getLogger("encore.platform.migrate")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema `create_all` made before migrations existed
_PG_LOCK_KEY = 0x656E636F7265  # "encore"

# What the initial revision has, frozen: adoption must never add what later revisions add.
BASELINE_TABLES = (
    "users",
    "tokens",
    "tracks",
    "audit_log",
    "remixes",
    "stem_rightsholders",
    "stems",
)
BASELINE_LATE_COLUMNS = {  # nullable columns that builds before migrations added on the fly
    "remixes": ("reason", "render_path", "canonical_hash", "split", "disclosure", "loudness_lufs"),
    "audit_log": ("remix_id", "before", "after", "reason"),
}
BASELINE_INDEXES = {
    "remixes": ("ix_remixes_canonical_hash", "ix_remixes_created_at", "ix_remixes_status"),
    "audit_log": ("ix_audit_log_actor_user_id", "ix_audit_log_at", "ix_audit_log_track_id"),
    "stem_rightsholders": ("ix_stem_rightsholders_track_id",),
}


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        try:
            _upgrade(conn)
        finally:
            if conn.dialect.name == "postgresql":
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()


def _upgrade(conn: Connection) -> None:
    tables = set(inspect(conn).get_table_names())
    config = alembic_config(conn)
    if "alembic_version" not in tables and "users" in tables:
        log.warning("Adopting a database made before migrations: stamping it at %s", BASELINE)
        _adopt_legacy(conn)
        command.stamp(config, BASELINE)
        conn.commit()
    command.upgrade(config, "head")
    conn.commit()


def _adopt_legacy(conn: Connection) -> None:
    """What the pre-migration stopgap did, limited to the initial revision's schema."""
    inspector = inspect(conn)
    have_tables = set(inspector.get_table_names())
    for name in BASELINE_TABLES:
        if name not in have_tables:  # a table added after that build (then created whole)
            Base.metadata.tables[name].create(conn)
    inspector = inspect(conn)
    for name, columns in BASELINE_LATE_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(name)}
        table = Base.metadata.tables[name]
        for column in columns:
            if column not in have:
                kind = table.columns[column].type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {kind}')
    for name, indexes in BASELINE_INDEXES.items():
        indexed = {i["name"] for i in inspect(conn).get_indexes(name)}
        table = Base.metadata.tables[name]
        for index in table.indexes:
            if index.name in indexes and index.name not in indexed:
                index.create(conn)
    conn.commit()


def schema_differences(engine: Engine) -> list:
    """What differs between the migrated database and the models (empty when they agree)."""
    with engine.connect() as conn:
        return compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
