"""Remixes of a track, heard and forked: play events (one per listener per remix per UTC day,
enforced by a unique constraint) with each remix's count kept on the remix for the feed's
"most played", and the lineage of a forked remix (`inspired_by`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # what server.db.UTCDateTime stores through


def upgrade() -> None:
    op.add_column("remixes", sa.Column("inspired_by_id", sa.String(32), nullable=True))
    op.create_index("ix_remixes_inspired_by_id", "remixes", ["inspired_by_id"])
    op.add_column(
        "remixes", sa.Column("play_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "remix_plays",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "remix_id",
            sa.String(32),
            sa.ForeignKey("remixes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("remix_id", "user_id", "day", name="uq_remix_play_day"),
    )
    op.create_index("ix_remix_plays_user_id", "remix_plays", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_remix_plays_user_id", table_name="remix_plays")
    op.drop_table("remix_plays")
    op.drop_column("remixes", "play_count")
    op.drop_index("ix_remixes_inspired_by_id", table_name="remixes")
    op.drop_column("remixes", "inspired_by_id")
