"""Lookups paused per application number as well as per user

Revision ID: 4c1e0a7b2d01
Revises: 3aaffd0f992e
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "4c1e0a7b2d01"
down_revision = "3aaffd0f992e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Failures recorded before this revision name no application: they keep counting for their users only.
    with op.batch_alter_table("case_lookup_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("application_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_case_lookup_failures_application_hash"), ["application_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_lookup_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_lookup_failures_application_hash"))
        batch_op.drop_column("application_hash")
