"""The near-duplicate check's inputs stored with each remix (shape hash, tempo, relative gains),
indexed by shape: the check no longer re-validates every live document of a track. Older rows
get theirs the first time a check meets them (server/antispam.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("remixes", sa.Column("shape_hash", sa.String(64), nullable=True))
    op.add_column("remixes", sa.Column("near_key", sa.JSON(), nullable=True))
    op.create_index("ix_remixes_shape_hash", "remixes", ["shape_hash"])


def downgrade() -> None:
    op.drop_index("ix_remixes_shape_hash", table_name="remixes")
    op.drop_column("remixes", "near_key")
    op.drop_column("remixes", "shape_hash")
