"""Ratings: once per user and answer, only for answers really sent

Revision ID: 6e3a2c9d4f03
Revises: 5d2f1b8c3e02
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

revision = "6e3a2c9d4f03"
down_revision = "5d2f1b8c3e02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
