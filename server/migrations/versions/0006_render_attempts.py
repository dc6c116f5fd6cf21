"""The render queue's bookkeeping on each remix: tries so far, the worker holding the current
try, and since when (server/worker.py). Attempts are limited, and a try by a worker that died
mid-render counts, so a remix that kills its renderer is rejected instead of crash-looping.

The queue's own tables (procrastinate's, on PostgreSQL only) are installed by server/queue.py.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "remixes", sa.Column("render_attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("remixes", sa.Column("render_worker", sa.String(120), nullable=True))
    op.add_column(
        "remixes", sa.Column("render_started_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("remixes", "render_started_at")
    op.drop_column("remixes", "render_worker")
    op.drop_column("remixes", "render_attempts")
