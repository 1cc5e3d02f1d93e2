"""The gateway's own tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ChatPreference(Base):
    """The language a chat speaks: chosen explicitly (/language) or last detected. Only ever looked up by
    chat, so the chat appears as its keyed hash (core/data_key.py), never in clear."""

    __tablename__ = "chat_preferences"

    chat_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(5))
    explicit: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
