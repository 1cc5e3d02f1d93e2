"""Pauses after repeated failed verifications, per user and per application number.

Five failures within an hour pause a user's lookups (of any number), and five failures of one application
number pause that number's lookups for everyone, so guessing a date of birth from many chats (or invented
senders) gets five tries in all, not five per chat. A pause lasts until the oldest of those five failures is
an hour old. Users and numbers are stored as keyed hashes only, in the database, so restarts and replicas
share the pauses.

A lookup is registered *before* the case API is asked, and the check counts every registered lookup,
concurrent ones included: of k lookups racing on one number (on several replicas), the i-th to count sees at
least i of them, so no more than the allowance left get through (a burst may be refused whole). Lookups that
did not fail (found, or the case API could not answer, so nothing was learnt) are withdrawn afterwards; what
is left are the failures, and a lookup cut short by a crash, which stays counted: the safe side.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import LookupFailure
from core.db import as_utc
from core.secret_key import keyed_hash

MAX_FAILURES = 5
WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Paused:
    """Why a lookup is refused: the user's own failures, or the application's (whoever made them)."""

    scope: Literal["user", "application"]
    until: dt.datetime


@dataclass(frozen=True)
class Admitted:
    """A lookup allowed to ask the case API; it counts as a failure unless withdrawn."""

    id: int


@dataclass(frozen=True)
class PausedApplication:
    """For staff: a paused application, known only by its keyed hash."""

    application_hash: str
    failures: int
    until: dt.datetime
    last_failure: dt.datetime


class Lockout:
    def __init__(self, sessions: async_sessionmaker, secret: bytes) -> None:
        self._sessions = sessions
        self._secret = secret

    def user_hash(self, user: str) -> str:
        return keyed_hash(self._secret, f"lookup:{user}")

    def application_hash(self, number: str) -> str:
        """`number` normalised (cases.numbers), so every way of typing it pauses the same application."""
        return keyed_hash(self._secret, f"application:{number}")

    async def paused(self, user: str, number: str, now: dt.datetime | None = None) -> Paused | None:
        """The pause that refuses this user's lookup of this number now, or None."""
        async with self._sessions() as session:
            return await self._paused(session, user, number, now or dt.datetime.now(dt.UTC), None)

    async def admit(self, user: str, number: str, now: dt.datetime | None = None) -> Admitted | Paused:
        """Registers a lookup about to be made, or refuses it. The registration is committed before the count,
        so lookups racing on other replicas see it (see the module's docstring)."""
        now = now or dt.datetime.now(dt.UTC)
        async with self._sessions() as session, session.begin():
            row = LookupFailure(user_hash=self.user_hash(user), application_hash=self.application_hash(number), at=now)
            session.add(row)
            # Old failures count for nothing: keep the table small.
            await session.execute(
                delete(LookupFailure)
                .where(LookupFailure.at < now - 2 * WINDOW)
                .execution_options(synchronize_session=False)
            )
        admitted = Admitted(row.id)
        async with self._sessions() as session:
            paused = await self._paused(session, user, number, now, admitted.id)
        if paused is not None:
            await self.withdraw(admitted)  # a refused lookup asked nothing: it does not lengthen the pause
            return paused
        return admitted

    async def withdraw(self, admitted: Admitted) -> None:
        """The lookup did not fail (found, or not answered): it counts for nothing."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(LookupFailure)
                .where(LookupFailure.id == admitted.id)
                .execution_options(synchronize_session=False)
            )

    async def _paused(
        self, session: AsyncSession, user: str, number: str, now: dt.datetime, besides: int | None
    ) -> Paused | None:
        pauses = []
        for scope, matches in (
            ("user", LookupFailure.user_hash == self.user_hash(user)),
            ("application", LookupFailure.application_hash == self.application_hash(number)),
        ):
            condition: ColumnElement[bool] = matches & (LookupFailure.at > now - WINDOW)
            if besides is not None:
                condition = condition & (LookupFailure.id != besides)
            recent = (await session.scalars(select(LookupFailure.at).where(condition).order_by(LookupFailure.at))).all()
            if len(recent) >= MAX_FAILURES:
                pauses.append(Paused(scope, as_utc(recent[-MAX_FAILURES]) + WINDOW))  # type: ignore[arg-type]
        # When both apply, the one that lasts longer is the one to tell.
        return max(pauses, key=lambda pause: pause.until, default=None)

    # ------------------------------------------------------------------ for staff (console/lockouts.py)

    async def paused_applications(self, now: dt.datetime | None = None) -> list[PausedApplication]:
        """Applications paused now, the longest-lasting pause first."""
        now = now or dt.datetime.now(dt.UTC)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(LookupFailure.application_hash, LookupFailure.at)
                    .where(LookupFailure.application_hash.is_not(None), LookupFailure.at > now - WINDOW)
                    .order_by(LookupFailure.at)
                )
            ).all()
        failures: dict[str, list[dt.datetime]] = defaultdict(list)
        for application_hash, at in rows:
            failures[application_hash].append(as_utc(at))
        paused = [
            PausedApplication(application_hash, len(times), times[-MAX_FAILURES] + WINDOW, times[-1])
            for application_hash, times in failures.items()
            if len(times) >= MAX_FAILURES
        ]
        return sorted(paused, key=lambda application: application.until, reverse=True)

    async def paused_users(self, now: dt.datetime | None = None) -> int:
        """How many users are paused now (they are not listed: a user's pause ends by itself)."""
        now = now or dt.datetime.now(dt.UTC)
        async with self._sessions() as session:
            counts = (
                select(LookupFailure.user_hash)
                .where(LookupFailure.at > now - WINDOW)
                .group_by(LookupFailure.user_hash)
                .having(func.count() >= MAX_FAILURES)
                .subquery()
            )
            return await session.scalar(select(func.count()).select_from(counts)) or 0

    async def lift(self, application_hash: str) -> int:
        """Ends an application's pause (staff, after checking who calls): its failures stop counting for the
        application, and still count for the users who made them. How many failures were let go."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(LookupFailure)
                .where(LookupFailure.application_hash == application_hash)
                .values(application_hash=None)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)
