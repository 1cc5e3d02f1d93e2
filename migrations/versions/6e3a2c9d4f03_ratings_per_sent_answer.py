"""Ratings: once per user and answer, only for answers really sent

kb_sent_answers records each answer sent with rating buttons (chat hash, message id, entry); a press counts
only when it matches one. kb_ratings holds one vote per chat and entry instead of one per message: where a
chat had voted on several answers of one entry, its latest vote is kept. Answers sent before this revision
have no record, so their buttons answer "no longer active"; the votes already given stay.

Revision ID: 6e3a2c9d4f03
Revises: 5d2f1b8c3e02
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "6e3a2c9d4f03"
down_revision = "5d2f1b8c3e02"
branch_labels = None
depends_on = None

# The initial schema left the per-message constraint unnamed: PostgreSQL named it, SQLite has no name for
# it, so batch mode (which copies the table on SQLite) gets one from this convention to drop it by.
_UNNAMED = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}
PER_MESSAGE, PER_ENTRY = "kb_ratings_chat_hash_message_id_key", "uq_kb_ratings_chat_hash_key"


def upgrade() -> None:
    op.create_table(
        "kb_sent_answers",
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.PrimaryKeyConstraint("chat_hash", "message_id"),
    )
    op.create_index("ix_kb_sent_answers_sent_at", "kb_sent_answers", ["sent_at"], unique=False)
    # One vote per chat and entry: the latest of each chat's votes on the entry stays.
    op.execute("DELETE FROM kb_ratings WHERE id NOT IN (SELECT MAX(id) FROM kb_ratings GROUP BY chat_hash, key)")
    with op.batch_alter_table("kb_ratings", naming_convention=_UNNAMED) as batch_op:
        batch_op.drop_constraint(PER_MESSAGE, type_="unique")
        batch_op.create_unique_constraint(PER_ENTRY, ["chat_hash", "key"])


def downgrade() -> None:
    # One vote per entry is also one per message (an answer message shows one entry): nothing to merge.
    with op.batch_alter_table("kb_ratings") as batch_op:
        batch_op.drop_constraint(PER_ENTRY, type_="unique")
        batch_op.create_unique_constraint(PER_MESSAGE, ["chat_hash", "message_id"])
    op.drop_index("ix_kb_sent_answers_sent_at", table_name="kb_sent_answers")
    op.drop_table("kb_sent_answers")
