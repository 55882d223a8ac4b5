"""Nonce replay cache shared by every API node (issue 10): the nonces table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nonces",
        # The X-Wz-Nonce as sent, or "sha256:<hex>" of a long one (index entries stay small).
        sa.Column("nonce", sa.String(128), primary_key=True),
        # Real clock of the API node that saw it; rows older than the Date skew are pruned.
        sa.Column("seen_at", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("nonces")
