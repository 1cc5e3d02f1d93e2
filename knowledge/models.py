"""Tables of the knowledge base."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base

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
    "processing_times",
    "contacts",
    "lost_or_late",  # a lost document or a missed deadline
    "entry_and_bans",  # crossing the border, entry bans, expulsion
    "health",
    "family",  # marriage, divorce, children's school, birth and documents
    "tax_and_banking",
    "driving",
)
# What aspect of its subjects an entry answers: how a follow-up ("and how much is it?") finds its entry.
ASPECTS = (
    "overview",  # what it is, how to get it
    "eligibility",  # who can, on what grounds, who is exempt
    "documents",
    "cost",
    "time",  # how long the procedure takes
    "validity",  # for how long it is issued or valid, how long one may stay
    "extension",
    "online",
    "where",  # which office, address, phone
    "family",
    "appeal",  # refusal, complaint, appeal
    "rights",  # what it gives or allows
    "loss",  # lost documents, missed deadlines
    "fines",
    "rules",  # a specific rule (trips abroad, changing employer…)
)
# Whether the published facts are confirmed ("published") or flagged for a fact check ("needs_review").
REVIEW_STATES = ("published", "needs_review")
DRAFT_STATES = ("draft", "in_review")


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
    # Situations where an answer is not enough (detention, violence, a lost passport): the chat also goes
    # to a person.
    needs_person: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The time-bound facts the answers state, each with when it was last confirmed (schema.DatedFact as JSON).
    dated_facts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # The conversation's view of the entry (knowledge/conversation.py): the subjects (topics) it serves, the
    # aspects it answers, and staff's choice of related questions (keys; none: computed from the subject).
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    aspects: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    related: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    texts: Mapped[list[EntryText]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", lazy="selectin", order_by="EntryText.language"
    )
    # Variants keep the order staff wrote them in (PostgreSQL returns rows in no particular order).
    variants: Mapped[list[QuestionVariant]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", lazy="selectin", order_by="QuestionVariant.id"
    )


class EntryText(Base):
    __tablename__ = "kb_texts"
    __table_args__ = (UniqueConstraint("entry_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(5))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # the legal source in this language, if translated
    # "Translation to check": another language's answer was changed and published while this one was not.
    # Users keep reading this (last published) text; set until staff update or confirm it.
    out_of_step_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    out_of_step_from: Mapped[str | None] = mapped_column(String(20))  # the changed languages, e.g. "en" or "en,ru"

    entry: Mapped[Entry] = relationship(back_populates="texts")


VARIANT, FOLLOW_UP = "variant", "follow_up"


class QuestionVariant(Base):
    __tablename__ = "kb_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(5))
    text: Mapped[str] = mapped_column(Text)
    # "variant": another way to ask the question; "follow_up": how it is asked in a conversation (schema.py).
    kind: Mapped[str] = mapped_column(String(10), default=VARIANT, server_default=VARIANT)

    entry: Mapped[Entry] = relationship(back_populates="variants")


class Draft(Base):
    """Staff's pending change to one entry (at most one per entry): saved, then submitted for review."""

    __tablename__ = "kb_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_version: Mapped[int] = mapped_column(Integer, default=0)  # live version the draft started from
    author: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Revision(Base):
    """Append-only history: every saved, submitted, rejected, published, restored or imported snapshot."""

    __tablename__ = "kb_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class Unanswered(Base):
    """A message the assistant could not answer confidently, with personal data redacted."""

    __tablename__ = "kb_unanswered"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(30))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Asked in a conversation, right after the answer to this entry: a follow-up ("and how much is it?"), which
    # staff add as a follow-up question rather than as a way to ask on its own.
    after_key: Mapped[str | None] = mapped_column(String(80))
    resolved_key: Mapped[str | None] = mapped_column(String(80))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class Rating(Base):
    """A user's 👍/👎 on one entry: one vote per user (their private chat) and entry, whichever of the
    entry's answers they pressed it under; a later press changes it."""

    __tablename__ = "kb_ratings"
    __table_args__ = (UniqueConstraint("chat_hash", "key", name="uq_kb_ratings_chat_hash_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), index=True)
    language: Mapped[str] = mapped_column(String(5))
    value: Mapped[int] = mapped_column(Integer)  # +1 or -1
    chat_hash: Mapped[str] = mapped_column(String(64))  # never the chat id itself
    message_id: Mapped[int] = mapped_column(Integer)  # the answer the latest press was under
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SentAnswer(Base):
    """An answer the gateway sent with rating buttons: which entry, in which chat (keyed hash) and message.
    A press counts only when it matches one: a modified client can send any callback data and message id.
    In the database, so every gateway replica and a restarted one know it; pruned after a while."""

    __tablename__ = "kb_sent_answers"

    chat_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class TrainingRun(Base):
    """One retraining of the engine's model after the question variants changed."""

    __tablename__ = "kb_training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|succeeded|failed
    requested_by: Mapped[str] = mapped_column(String(80))
    full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # asked: from scratch
    model: Mapped[str | None] = mapped_column(String(200))
    finetuned_from: Mapped[str | None] = mapped_column(String(200))  # a quick update of this model
    reloaded: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
