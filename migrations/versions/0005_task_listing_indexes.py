"""list_summary and list_task at scale (issue 19): summary key columns, and an index for each.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SUMMARY_COLUMNS = ["status", "deleted", "finish_hour", "region", "vcodec", "height"]

tasks = sa.table(
    "tasks",
    sa.column("storage", sa.JSON),
    sa.column("template", sa.JSON),
    sa.column("finish_time", sa.Float),
    sa.column("region", sa.String),
    sa.column("vcodec", sa.String),
    sa.column("finish_hour", sa.Float),
)


def upgrade() -> None:
    op.add_column("tasks", sa.Column("region", sa.String, nullable=False, server_default=""))
    op.add_column("tasks", sa.Column("vcodec", sa.String, nullable=False, server_default="h264"))
    op.add_column("tasks", sa.Column("finish_hour", sa.Float, nullable=True))
    op.execute(
        tasks.update().values(
            region=sa.func.coalesce(tasks.c.storage["region"].as_string(), ""),
            vcodec=sa.func.coalesce(tasks.c.template["vcodec"].as_string(), "h264"),
            finish_hour=_hour_start(tasks.c.finish_time),
        )
    )
    op.create_index("ix_tasks_listing", "tasks", ["deleted", "create_time", "task_id", "status"])
    op.create_index("ix_tasks_summary", "tasks", [*SUMMARY_COLUMNS, "finish_time", "duration"])


def _hour_start(seconds: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    """floor(seconds / 3600) * 3600; SQLite may lack floor(), and its CAST truncates, which is
    the same for the non-negative times the emulator records (PostgreSQL's CAST rounds)."""
    if op.get_bind().dialect.name == "sqlite":
        return sa.cast(sa.cast(seconds / 3600, sa.Integer) * 3600, sa.Float)
    return sa.func.floor(seconds / 3600) * 3600


def downgrade() -> None:
    op.drop_index("ix_tasks_summary", "tasks")
    op.drop_index("ix_tasks_listing", "tasks")
    with op.batch_alter_table("tasks") as batch:
        for name in ("finish_hour", "vcodec", "region"):
            batch.drop_column(name)
