"""Alembic environment: the platform's models are the target metadata.

`server.migrate` passes an open connection in `config.attributes["connection"]`; run by hand,
the database URL comes from `-x url=...` (see alembic.ini). SQLite cannot ALTER most things, so
migrations run in batch mode there (copy-and-move tables), which is a no-op on PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("Give the database: alembic -x url=sqlite:///... (see alembic.ini)")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) mode is not supported; run against a database.")
run_migrations_online()
