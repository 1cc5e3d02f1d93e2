"""Data at rest: encrypted transcripts and access tokens, hashed chat ids

Transcript lines, escalation notes and the case API's access tokens are encrypted with the data key in place;
the chat ids of tickets and subscriptions become a keyed hash (for lookups) beside an encrypted copy (to write
to the user); language preferences keep the keyed hash only. Existing rows are converted here, so this needs
the keys: the settings of the process that migrates (core/migrations.py hands them over; the plain
`alembic` command reads them from the environment like every process does). Against a database other than the
embedded SQLite a process without them refuses, and nothing is converted, rather than make a key only it has
(core/secret_key.py).

On SQLite, handoff_tickets is altered in place (ALTER TABLE ... DROP COLUMN), never copied: dropping the old
table of a copy would cascade to every transcript line (foreign keys are on), so the new columns there stay
nullable at the database's level. A downgrade decrypts back; the preferences' chat ids cannot be recovered
from their hashes, so it leaves that table empty (languages are detected again).

Revision ID: 7f4b3dae5004
Revises: 6e3a2c9d4f03
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from core.data_key import Sealer, sealer

revision = "7f4b3dae5004"
down_revision = "6e3a2c9d4f03"
branch_labels = None
depends_on = None


def _sealer() -> Sealer:
    """Made only when there are rows to convert (an empty database needs no key), once per migration run."""
    attributes = context.config.attributes
    if "sealer" not in attributes:
        from core.settings import Settings

        attributes["sealer"] = sealer(attributes.get("settings") or Settings())
    return attributes["sealer"]


def _convert(table: str, columns: list[str], change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrites every row of `table` with `change(row)` (a dict of the new values by column)."""
    bind = op.get_bind()
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    rows = [dict(row._mapping) for row in bind.execute(sa.select(t))]
    if not rows:
        return
    targets = {c for row in rows for c in change(row)}
    update = t.update().where(t.c.id == sa.bindparam("_id")).values({c: sa.bindparam(f"_{c}") for c in targets})
    bind.execute(update, [{"_id": row["id"], **{f"_{k}": v for k, v in change(row).items()}} for row in rows])


def _sealed(value: str | None) -> str | None:
    return None if value is None else _sealer().seal(value)


def _opened(value: str | None) -> str | None:
    return None if value is None else _sealer().open(value)


def _chat_and(row: dict[str, Any], column: str) -> dict[str, Any]:
    """The row's chat id as hash + sealed copy, and `column` sealed."""
    chat_id = row["chat_id"]
    return {
        "chat_hash": _sealer().chat_hash(chat_id),
        "chat_sealed": _sealer().seal_chat(chat_id),
        column: _sealed(row[column]),
    }


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():  # what the conversion frees (old values, the old preferences table) is zeroed, not left behind
        op.execute("PRAGMA secure_delete = ON")
    # Tickets: the chat id as hash + sealed copy, the escalation note sealed.
    op.add_column("handoff_tickets", sa.Column("chat_hash", sa.String(length=64), nullable=True))
    op.add_column("handoff_tickets", sa.Column("chat_sealed", sa.Text(), nullable=True))
    columns = ["chat_id", "chat_hash", "chat_sealed"]
    _convert("handoff_tickets", [*columns, "escalation_note"], lambda row: _chat_and(row, "escalation_note"))
    op.drop_index("ix_handoff_tickets_chat_id", table_name="handoff_tickets")
    if _sqlite():
        op.execute("ALTER TABLE handoff_tickets DROP COLUMN chat_id")
    else:
        op.drop_column("handoff_tickets", "chat_id")
        op.alter_column("handoff_tickets", "chat_hash", existing_type=sa.String(length=64), nullable=False)
        op.alter_column("handoff_tickets", "chat_sealed", existing_type=sa.Text(), nullable=False)
    op.create_index("ix_handoff_tickets_chat_hash", "handoff_tickets", ["chat_hash"], unique=False)

    # Transcript lines: sealed in place.
    _convert("handoff_messages", ["text"], lambda row: {"text": _sealed(row["text"])})

    # Subscriptions: the chat id as hash + sealed copy, the access token sealed (longer: a Text column).
    with op.batch_alter_table("case_subscriptions") as batch_op:
        batch_op.add_column(sa.Column("chat_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chat_sealed", sa.Text(), nullable=True))
        batch_op.alter_column("access_token", existing_type=sa.String(length=200), type_=sa.Text())
    _convert("case_subscriptions", [*columns, "access_token"], lambda row: _chat_and(row, "access_token"))
    with op.batch_alter_table("case_subscriptions") as batch_op:
        batch_op.drop_index("ix_case_subscriptions_chat_id")
        batch_op.drop_column("chat_id")
        batch_op.alter_column("chat_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("chat_sealed", existing_type=sa.Text(), nullable=False)
        batch_op.create_index("ix_case_subscriptions_chat_hash", ["chat_hash"], unique=False)

    # Preferences: keyed by the chat's hash (a new primary key: a new table, the rows carried over).
    bind = op.get_bind()
    old = sa.table(
        "chat_preferences",
        sa.column("chat_id", sa.BigInteger()),
        sa.column("language", sa.String()),
        sa.column("explicit", sa.Boolean()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    rows = [dict(row._mapping) for row in bind.execute(sa.select(old))]
    op.drop_table("chat_preferences")
    new = op.create_table(
        "chat_preferences",
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("chat_hash"),
    )
    if rows:
        op.bulk_insert(
            new,
            [
                {
                    "chat_hash": _sealer().chat_hash(row["chat_id"]),
                    "language": row["language"],
                    "explicit": row["explicit"],
                    "updated_at": row["updated_at"],
                }
                for row in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("chat_preferences")
    op.create_table(
        "chat_preferences",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("chat_id"),
    )

    with op.batch_alter_table("case_subscriptions") as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
    _convert(
        "case_subscriptions",
        ["chat_id", "access_token", "chat_sealed"],
        lambda row: {"chat_id": _sealer().open_chat(row["chat_sealed"]), "access_token": _opened(row["access_token"])},
    )
    with op.batch_alter_table("case_subscriptions") as batch_op:
        batch_op.drop_index("ix_case_subscriptions_chat_hash")
        batch_op.drop_column("chat_sealed")
        batch_op.drop_column("chat_hash")
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("access_token", existing_type=sa.Text(), type_=sa.String(length=200))
        batch_op.create_index("ix_case_subscriptions_chat_id", ["chat_id"], unique=False)

    _convert("handoff_messages", ["text"], lambda row: {"text": _opened(row["text"])})

    op.add_column("handoff_tickets", sa.Column("chat_id", sa.BigInteger(), nullable=True))
    _convert(
        "handoff_tickets",
        ["chat_id", "escalation_note", "chat_sealed"],
        lambda row: {
            "chat_id": _sealer().open_chat(row["chat_sealed"]),
            "escalation_note": _opened(row["escalation_note"]),
        },
    )
    op.drop_index("ix_handoff_tickets_chat_hash", table_name="handoff_tickets")
    if _sqlite():
        op.execute("ALTER TABLE handoff_tickets DROP COLUMN chat_sealed")
        op.execute("ALTER TABLE handoff_tickets DROP COLUMN chat_hash")
    else:
        op.drop_column("handoff_tickets", "chat_sealed")
        op.drop_column("handoff_tickets", "chat_hash")
        op.alter_column("handoff_tickets", "chat_id", existing_type=sa.BigInteger(), nullable=False)
    op.create_index("ix_handoff_tickets_chat_id", "handoff_tickets", ["chat_id"], unique=False)
