"""Training: the model store (archives in chunks, the pointer to the model to serve) and rollouts

Revision ID: c4f6a8b0d2e3
Revises: a7d2c4e6f8b1
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c4f6a8b0d2e3"
down_revision = "a7d2c4e6f8b1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_archives",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("lineage", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "model_chunks",
        sa.Column("name", sa.String(200), sa.ForeignKey("model_archives.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "model_pointer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), sa.ForeignKey("model_archives.name"), nullable=False),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "model_rollouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("from_model", sa.String(200), nullable=True),
        sa.Column("to_model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "model_engine_switches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rollout_id", sa.Integer(), sa.ForeignKey("model_rollouts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("engine", sa.String(40), nullable=False),
        sa.Column("to_model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_engine_switches_rollout_id", "model_engine_switches", ["rollout_id"])


def downgrade() -> None:
    op.drop_index("ix_model_engine_switches_rollout_id", "model_engine_switches")
    for table in ("model_engine_switches", "model_rollouts", "model_pointer", "model_chunks", "model_archives"):
        op.drop_table(table)
