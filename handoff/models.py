"""Tickets and their transcript."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assistant.db import Base

QUEUES = ("support", "officers")
STATES = ("waiting", "assigned", "resolved")
REASONS = ("asked", "not_understood", "sensitive_topic")


class Ticket(Base):
    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    language: Mapped[str] = mapped_column(String(5))
    queue: Mapped[str] = mapped_column(String(20), default="support", index=True)
    state: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    reason: Mapped[str] = mapped_column(String(30))
    assignee: Mapped[str | None] = mapped_column(String(80))
    escalation_note: Mapped[str | None] = mapped_column(Text)
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
    """One line of the transcript. Staff working the ticket read it whole; listings show it redacted."""

    __tablename__ = "handoff_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(80))  # user | bot | staff:<name> | system
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text | photo | document | voice ...
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
