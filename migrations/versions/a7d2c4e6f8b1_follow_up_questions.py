"""Knowledge: follow-up questions (beside the variants, with their kind); unanswered follow-ups' context

Entries already in a database get the seed's follow-up questions at the next start (KnowledgeBase.add_missing
fills them for entries that have none).

Revision ID: a7d2c4e6f8b1
Revises: 9c1e2f3a4b06
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a7d2c4e6f8b1"
down_revision = "9c1e2f3a4b06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_variants") as batch:
        batch.add_column(sa.Column("kind", sa.String(10), server_default="variant", nullable=False))
    with op.batch_alter_table("kb_unanswered") as batch:
        batch.add_column(sa.Column("after_key", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_unanswered") as batch:
        batch.drop_column("after_key")
    with op.batch_alter_table("kb_variants") as batch:
        batch.drop_column("kind")
