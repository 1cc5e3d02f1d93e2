"""Staff accounts: deactivation, session generations, login throttling

Revision ID: 5d2f1b8c3e02
Revises: 4c1e0a7b2d01
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

revision = "5d2f1b8c3e02"
down_revision = "4c1e0a7b2d01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
