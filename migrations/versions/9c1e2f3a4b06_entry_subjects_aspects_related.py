"""Knowledge: each entry's subjects, aspects and related questions, for reading follow-ups in context

Entries already in a database get the seed's labels at the next start (KnowledgeBase.add_missing fills the
labels of entries that have none); staff's entries stay unlabelled until staff label them.

Revision ID: 9c1e2f3a4b06
Revises: 8b6d4e0f1a05
Create Date: 2026-12-06 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9c1e2f3a4b06"
down_revision = "8b6d4e0f1a05"
branch_labels = None
depends_on = None

COLUMNS = ("subjects", "aspects", "related")


def upgrade() -> None:
    with op.batch_alter_table("kb_entries") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("kb_entries") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
