"""Status-change subscriptions: offered after a successful lookup, activated by the user, served once per
change. A change is claimed with a conditional update, so however many pollers run, a user is told once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from actions.models import StatusSubscription

FINAL_STATUSES = frozenset({"issued", "rejected", "withdrawn"})
OFFER_LIFETIME = dt.timedelta(days=1)


class Subscriptions:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def offer(self, chat_id: int, language: str, access_token: str, status: str) -> int:
        async with self._sessions() as session, session.begin():
            row = StatusSubscription(
                chat_id=chat_id, language=language, access_token=access_token, last_status=status, active=False
            )
            session.add(row)
            await session.flush()
            offer_id = row.id
            # synchronize_session=False: evaluate in SQL only (SQLite hands back naive datetimes).
            await session.execute(
                delete(StatusSubscription)
                .where(
                    StatusSubscription.active.is_(False),
                    StatusSubscription.created_at < dt.datetime.now(dt.UTC) - OFFER_LIFETIME,
                )
                .execution_options(synchronize_session=False)
            )
            return offer_id

    async def activate(self, offer_id: int, chat_id: int, language: str) -> bool:
        """Only the chat the offer was made to can take it up."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(StatusSubscription)
                .where(StatusSubscription.id == offer_id, StatusSubscription.chat_id == chat_id)
                .values(active=True, language=language)
            )
            return result.rowcount == 1

    async def active(self) -> list[StatusSubscription]:
        async with self._sessions() as session:
            return list(
                (await session.scalars(select(StatusSubscription).where(StatusSubscription.active.is_(True)))).all()
            )

    async def claim_change(self, subscription_id: int, old: str, new: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(StatusSubscription)
                .where(StatusSubscription.id == subscription_id, StatusSubscription.last_status == old)
                .values(last_status=new, last_checked=dt.datetime.now(dt.UTC))
            )
            return result.rowcount == 1

    async def remove(self, subscription_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(StatusSubscription).where(StatusSubscription.id == subscription_id))
