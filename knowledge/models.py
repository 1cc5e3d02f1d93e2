"""Tables of the knowledge base."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assistant.db import Base

TOPICS = (
    "registration",
    "temporary_residence",
    "permanent_residence",
    "work_permit",
    "visa",
    "citizenship",
    "refugee",
    "statelessness",
    "e_services",
    "fees",
    "contacts",
    "lost_documents",
)
REVIEW_STATES = ("draft", "in_review", "published", "needs_review")


class Entry(Base):
    __tablename__ = "kb_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    topic: Mapped[str] = mapped_column(String(40), index=True)
    legal_source: Mapped[str] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(500))
    reviewed_on: Mapped[dt.date] = mapped_column(Date)
    review_state: Mapped[str] = mapped_column(String(20), default="published")
    review_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                    onupdate=func.now())

    texts: Mapped[list[EntryText]] = relationship(back_populates="entry", cascade="all, delete-orphan",
                                                  lazy="selectin", order_by="EntryText.language")
    # Variants keep the order staff wrote them in (PostgreSQL returns rows in no particular order).
    variants: Mapped[list[QuestionVariant]] = relationship(back_populates="entry", cascade="all, delete-orphan",
                                                           lazy="selectin", order_by="QuestionVariant.id")


class EntryText(Base):
    __tablename__ = "kb_texts"
    __table_args__ = (UniqueConstraint("entry_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(5))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)

    entry: Mapped[Entry] = relationship(back_populates="texts")


class QuestionVariant(Base):
    __tablename__ = "kb_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(5))
    text: Mapped[str] = mapped_column(Text)

    entry: Mapped[Entry] = relationship(back_populates="variants")
