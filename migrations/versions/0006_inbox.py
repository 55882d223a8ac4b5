"""The callback inbox (issue 20): requests POSTed to /_emulator/inbox/{name}, shared by processes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inbox", sa.String(64), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.String, nullable=False),
        sa.Column("body_encoding", sa.String, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    # Newest first per inbox, and the cap's "everything older than the 1,000th".
    op.create_index("ix_inbox_entries_inbox_id", "inbox_entries", ["inbox", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_entries_inbox_id", "inbox_entries")
    op.drop_table("inbox_entries")
