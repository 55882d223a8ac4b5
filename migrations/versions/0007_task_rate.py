"""ffmpeg's fps and speed of a running task (issue 20: the dashboard's ETA).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("fps", sa.Float, nullable=False, server_default="0"))
    op.add_column("tasks", sa.Column("speed", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("speed")
        batch.drop_column("fps")
