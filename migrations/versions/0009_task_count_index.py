"""list_task's `total` from a narrow index (issue 19, point 2).

COUNT walks every entry of the window; ix_tasks_listing's entries carry the task_id for the
page's order, about twice the bytes of these, so counting 100,000 tasks read twice the pages.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_count", "tasks", ["deleted", "create_time", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_count", "tasks")
