"""Lookups paused per application number as well as per user

Revision ID: 4c1e0a7b2d01
Revises: 3aaffd0f992e
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

revision = "4c1e0a7b2d01"
down_revision = "3aaffd0f992e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
