"""Analytics: messages and conversations counted by day, language, channel, outcome and entry

Revision ID: e5a7c9b1d3f4
Revises: c4f6a8b0d2e3
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e5a7c9b1d3f4"
down_revision = "c4f6a8b0d2e3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_counts",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("language", sa.String(5), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("outcome", sa.String(30), primary_key=True),
        sa.Column("entry", sa.String(80), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "usage_conversations",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("language", sa.String(5), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_conversations")
    op.drop_table("usage_counts")
