"""Alembic migrations: a fresh database, an existing pre-migration data dir, and the CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from server.db import SCHEMA_REVISION, make_engine
from server.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
    upgrade_to_head,
)
from tests.plugins.platform import REPO

LEGACY_SCHEMA = Path(__file__).parent / "data" / "legacy_schema.sql"
NOW = "2026-01-01 10:00:00.000000"


def _legacy_db(path: Path, *, drop_late_column: bool = False) -> None:
    """A database exactly as the pre-migration build made it, with a little data in it."""
    con = sqlite3.connect(path)
    con.executescript(LEGACY_SCHEMA.read_text())
    con.execute("INSERT INTO users VALUES (1, 'fan', 'Fan', 'x', 'superfan', 'fan', 0, ?)", (NOW,))
    con.execute(
        "INSERT INTO tracks VALUES ('t1', 1, 'Song', 1, 120.0, 'C major', 4, 0.0, '[]', '{}', ?)",
        (NOW,),
    )
    # Two live remixes with one recipe (what the old race could leave behind) and a third one.
    for rid, key, canonical, created in (
        ("r1", "k1", "same", "2026-01-01 10:00:01.000000"),
        ("r2", "k2", "same", "2026-01-01 10:00:02.000000"),
        ("r3", "k3", "other", "2026-01-01 10:00:03.000000"),
    ):
        con.execute(
            "INSERT INTO remixes (id, user_id, track_id, idempotency_key, title, document, "
            "document_hash, status, created_at, updated_at, canonical_hash) "
            "VALUES (?, 1, 't1', ?, 'T', '{}', 'h', 'published', ?, ?, ?)",
            (rid, key, created, created, canonical),
        )
    if drop_late_column:  # an even older build: before loudness was stored
        con.execute("ALTER TABLE remixes DROP COLUMN loudness_lufs")
    con.commit()
    con.close()


def test_a_fresh_database_is_created_at_head_matching_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert schema_differences(engine) == []
    upgrade_to_head(engine)  # a second start changes nothing
    assert schema_differences(engine) == []
    engine.dispose()


def test_a_pre_migration_database_is_adopted_and_upgraded_keeping_its_data(tmp_path):
    path = tmp_path / "legacy.sqlite3"
    _legacy_db(path, drop_late_column=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        rows = conn.execute(text("SELECT id, canonical_hash FROM remixes ORDER BY id")).all()
        assert conn.execute(text("SELECT username FROM users")).scalar_one() == "fan"
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("remixes")}
    # The later of the two same-recipe remixes stays, but no longer claims the recipe.
    assert [tuple(r) for r in rows] == [("r1", "same"), ("r2", None), ("r3", "other")]
    assert indexes["uq_remix_live_recipe"]["unique"]
    assert schema_differences(engine) == []
    engine.dispose()


def test_the_cli_migrates_an_existing_data_dir_from_any_working_directory(tmp_path):
    data_dir = tmp_path / "platform"
    data_dir.mkdir()
    _legacy_db(data_dir / "platform.sqlite3")
    cmd = [sys.executable, "-m", "server.cli", "create-user", "newbie", "--password", "pw-12345678"]
    done = subprocess.run(
        [*cmd, "--data-dir", str(data_dir)],
        cwd=tmp_path,  # not the repo: the migrations ship inside the package
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "User 'newbie' (free) is ready." in done.stdout
    con = sqlite3.connect(data_dir / "platform.sqlite3")
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert con.execute("SELECT count(*) FROM users").fetchone() == (2,)
    con.close()


def test_schema_revision_names_the_newest_migration():
    assert head_revision() == SCHEMA_REVISION


def test_a_start_on_a_current_database_skips_alembic_and_an_older_one_is_upgraded(tmp_path):
    """init_db (every platform start): no Alembic import when nothing is to do, which is most of
    the platform's start after the first; a database one migration behind still gets it."""
    path = tmp_path / "db.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.begin() as conn:  # as a build before the newest migration left it
        command.downgrade(alembic_config(conn), "-1")
        assert current_revision(conn) != head_revision()
    engine.dispose()
    script = (
        "import sys; from server.db import init_db, make_engine; "
        f"init_db(make_engine('sqlite:///{path}')); print('alembic' in sys.modules)"
    )

    def start() -> str:
        run = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    assert start() == "True"  # behind: migrated with Alembic
    assert start() == "False"  # current: left alone
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert schema_differences(engine) == []
    engine.dispose()


def test_the_near_duplicate_columns_are_filled_from_each_remixs_stored_key(tmp_path):
    """0008 adds a remix's tempo and mean level beside its shape: a remix stored before gets
    them from the near key it already has."""
    path = tmp_path / "db.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, tier, roles, "
                "diagnostics, created_at) VALUES (1, 'fan', 'Fan', 'x', 'superfan', 'fan', 0, :t)"
            ),
            {"t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO tracks (id, version, title, artist_user_id, bpm, key, "
                "beats_per_bar, first_beat, sections, policy, created_at) "
                "VALUES ('t1', 1, 'Song', 1, 120.0, 'C major', 4, 0.0, '[]', '{}', :t)"
            ),
            {"t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO remixes (id, user_id, track_id, idempotency_key, title, document, "
                "document_hash, status, created_at, updated_at, shape_hash, near_key) VALUES "
                "('r1', 1, 't1', 'k1', 'T', '{}', 'h', 'published', :t, :t, 's', :key)"
            ),
            {"t": NOW, "key": '{"tempo": 1.05, "gains": [0.0, -3.0, -6.0]}'},
        )
    upgrade_to_head(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT near_tempo, near_level FROM remixes")).one()
    assert tuple(row) == (1.05, -3.0)
    engine.dispose()
