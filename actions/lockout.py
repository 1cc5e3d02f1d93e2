"""Lockout after repeated failed verifications: 5 within an hour refuse lookups until the oldest of them is
an hour old. Persisted in the database, so restarts and replicas share it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from actions.models import LookupFailure
from assistant.db import as_utc
from assistant.secret_key import keyed_hash

MAX_FAILURES = 5
WINDOW = dt.timedelta(hours=1)


class Lockout:
    def __init__(self, sessions: async_sessionmaker, secret: bytes) -> None:
        self._sessions = sessions
        self._secret = secret

    def user_hash(self, user: str) -> str:
        return keyed_hash(self._secret, f"lookup:{user}")

    async def locked_until(self, user: str, now: dt.datetime | None = None) -> dt.datetime | None:
        """When lookups are allowed again, or None if they are allowed now."""
        now = now or dt.datetime.now(dt.UTC)
        async with self._sessions() as session:
            recent = (
                await session.scalars(
                    select(LookupFailure.at)
                    .where(LookupFailure.user_hash == self.user_hash(user), LookupFailure.at > now - WINDOW)
                    .order_by(LookupFailure.at)
                )
            ).all()
        if len(recent) < MAX_FAILURES:
            return None
        return as_utc(recent[-MAX_FAILURES]) + WINDOW

    async def record_failure(self, user: str, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        async with self._sessions() as session, session.begin():
            session.add(LookupFailure(user_hash=self.user_hash(user), at=now))
            # Old failures count for nothing: keep the table small.
            await session.execute(
                delete(LookupFailure)
                .where(LookupFailure.at < now - 2 * WINDOW)
                .execution_options(synchronize_session=False)
            )

    async def failures(self, user: str) -> int:
        async with self._sessions() as session:
            return (
                await session.scalar(
                    select(func.count(LookupFailure.id)).where(LookupFailure.user_hash == self.user_hash(user))
                )
                or 0
            )
