"""Counts only: no message text, no chat id, no hash of one. So they can be kept for years."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class UsageCount(Base):
    """Messages answered on a day (in Baku), by the conversation's language, how they came (typed text or a
    button) and what became of them; `entry` is the entry answered from ("" for any other outcome)."""

    __tablename__ = "usage_counts"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    language: Mapped[str] = mapped_column(String(5), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(30), primary_key=True)
    entry: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class UsageConversation(Base):
    """Conversations on a day: each chat that wrote that day counts once, in the language it first wrote in."""

    __tablename__ = "usage_conversations"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    language: Mapped[str] = mapped_column(String(5), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
