"""Retrying a task from the dashboard (issue 20): each task names the task it retried.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("retry_of", sa.String(32), nullable=True))
    # A task page shows "retried as ...": the tasks whose retry_of is this one.
    op.create_index("ix_tasks_retry_of", "tasks", ["retry_of"])


def downgrade() -> None:
    op.drop_index("ix_tasks_retry_of", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("retry_of")
