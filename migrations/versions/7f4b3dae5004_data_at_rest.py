"""Data at rest: encrypted transcripts and access tokens, hashed chat ids

Revision ID: 7f4b3dae5004
Revises: 6e3a2c9d4f03
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

revision = "7f4b3dae5004"
down_revision = "6e3a2c9d4f03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
