"""Knowledge: dated facts per entry, and answers whose translation is to be checked

kb_entries.dated_facts lists the time-bound facts an entry states with when each was last confirmed (the
console's "to re-check" list). kb_texts.out_of_step_since/_from mark an answer whose entry was changed in
another language and published while this language was not (the console's "translations to check").

Revision ID: 8b6d4e0f1a05
Revises: 7f4b3dae5004
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8b6d4e0f1a05"
down_revision = "7f4b3dae5004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_entries") as batch:
        batch.add_column(sa.Column("dated_facts", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("kb_texts") as batch:
        batch.add_column(sa.Column("out_of_step_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("out_of_step_from", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_texts") as batch:
        batch.drop_column("out_of_step_from")
        batch.drop_column("out_of_step_since")
    with op.batch_alter_table("kb_entries") as batch:
        batch.drop_column("dated_facts")
