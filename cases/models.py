"""Tables of the application-status feature: failed verifications (lockout) and status subscriptions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class LookupFailure(Base):
    """One failed verification (or one lookup in flight: see cases/lockout.py); five within an hour pause
    the user's lookups, and five for one application number pause that number's lookups for everyone. Users
    and numbers appear as keyed hashes only; a lifted application pause leaves `application_hash` empty."""

    __tablename__ = "case_lookup_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(64), index=True)
    application_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class StatusSubscription(Base):
    """An offer (after a successful lookup) or a user's request to be told when their application's status
    changes. Holds the case API's access token for that one application (a capability), never the
    applicant's verification data. Offers not taken up within a day are deleted. The token and the chat id
    are encrypted with the data key (core/data_key.py); the chat's keyed hash finds its offers."""

    __tablename__ = "case_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_hash: Mapped[str] = mapped_column(String(64), index=True)
    chat_sealed: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    access_token: Mapped[str] = mapped_column(Text)  # encrypted
    last_status: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    last_checked: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
