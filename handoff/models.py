"""Tickets and their transcript."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base

QUEUES = ("support", "officers")
STATES = ("waiting", "assigned", "resolved")
REASONS = ("asked", "not_understood", "sensitive_topic")


class Ticket(Base):
    __tablename__ = "handoff_tickets"
    # created_at comes back with the INSERT: the service reads it at once.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy reads it, nobody changes it

    id: Mapped[int] = mapped_column(primary_key=True)
    # The chat twice, never in clear: a keyed hash to find its ticket, and encrypted to write to the user.
    chat_hash: Mapped[str] = mapped_column(String(64), index=True)
    chat_sealed: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    queue: Mapped[str] = mapped_column(String(20), default="support", index=True)
    state: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    reason: Mapped[str] = mapped_column(String(30))
    assignee: Mapped[str | None] = mapped_column(String(80))
    escalation_note: Mapped[str | None] = mapped_column(Text)  # encrypted (staff may quote the user)
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)  # the staff supergroup
    topic_id: Mapped[int | None] = mapped_column(Integer)  # its forum topic for this ticket
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(Integer)  # the user's 👍 (1) or 👎 (-1) for the people's help

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", lazy="selectin", order_by="TicketMessage.id"
    )


class TicketMessage(Base):
    """One line of the transcript, encrypted with the data key (core/data_key.py): what people write to
    staff carries passport numbers, phone numbers and FINs. The service decrypts it for the staff topic's
    header; the console shows it redacted."""

    __tablename__ = "handoff_messages"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(80))  # user | bot | staff:<name> | system
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text | photo | document | voice ...
    text: Mapped[str] = mapped_column(Text)  # encrypted
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
