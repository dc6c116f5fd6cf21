"""The near-duplicate look-up narrows in an index: a remix's tempo ratio and mean relative gain
as columns beside its shape, so checking a submission reads the few remixes of its shape and
tempo whose level is close, not every remix of that shape (10 000 of them took 0.9 s).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("remixes", sa.Column("near_tempo", sa.Float(), nullable=True))
    op.add_column("remixes", sa.Column("near_level", sa.Float(), nullable=True))
    op.create_index(
        "ix_remixes_near", "remixes", ["track_id", "shape_hash", "near_tempo", "near_level"]
    )
    remixes = sa.table(
        "remixes",
        sa.column("id", sa.String),
        sa.column("near_key", sa.JSON),
        sa.column("near_tempo", sa.Float),
        sa.column("near_level", sa.Float),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(remixes.c.id, remixes.c.near_key)).all()
    for remix_id, key in rows:
        if not key:
            continue
        gains = key["gains"]
        bind.execute(
            remixes.update()
            .where(remixes.c.id == remix_id)
            .values(near_tempo=key["tempo"], near_level=sum(gains) / len(gains))
        )


def downgrade() -> None:
    op.drop_index("ix_remixes_near", table_name="remixes")
    op.drop_column("remixes", "near_level")
    op.drop_column("remixes", "near_tempo")
