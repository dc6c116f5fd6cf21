"""One live remix per recipe and track (a unique partial index), closing the race in which two
concurrent submissions of the same document with different Idempotency-Keys were both accepted.

Should an older database already hold such a pair, the later remixes keep everything but their
`canonical_hash` (they stay published; the earliest one still blocks new exact duplicates).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status != 'rejected'"


def upgrade() -> None:
    op.execute(
        sa.text(
            f"""
            UPDATE remixes SET canonical_hash = NULL
            WHERE {LIVE} AND canonical_hash IS NOT NULL AND EXISTS (
                SELECT 1 FROM remixes AS earlier
                WHERE earlier.track_id = remixes.track_id
                  AND earlier.canonical_hash = remixes.canonical_hash
                  AND earlier.status != 'rejected'
                  AND (earlier.created_at < remixes.created_at
                       OR (earlier.created_at = remixes.created_at AND earlier.id < remixes.id))
            )
            """
        )
    )
    op.create_index(
        "uq_remix_live_recipe",
        "remixes",
        ["track_id", "canonical_hash"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_remix_live_recipe", table_name="remixes")
