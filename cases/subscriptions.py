"""Status-change subscriptions: offered after a successful lookup, activated by the user, served once per
change. A change is claimed with a conditional update, so however many pollers run, a user is told once.

The access token (a capability for one application) and the chat id are stored encrypted, the chat's keyed
hash beside them for "only the chat the offer was made to" (core/data_key.py). A subscription that no
configured key decrypts (a key dropped too early while rotating) is skipped and logged, never deleted: it
works again once the key is back, and the others are served meanwhile."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from cases.models import StatusSubscription
from core.data_key import DataKeyError, Sealer

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"issued", "rejected", "withdrawn"})
OFFER_LIFETIME = dt.timedelta(days=1)


@dataclass(frozen=True)
class ActiveSubscription:
    """A subscription as the notifier uses it: decrypted."""

    id: int
    chat_id: int
    language: str
    access_token: str
    last_status: str


class Subscriptions:
    def __init__(self, sessions: async_sessionmaker, sealer: Sealer) -> None:
        self._sessions = sessions
        self._sealer = sealer

    async def offer(self, chat_id: int, language: str, access_token: str, status: str) -> int:
        async with self._sessions() as session, session.begin():
            row = StatusSubscription(
                chat_hash=self._sealer.chat_hash(chat_id),
                chat_sealed=self._sealer.seal_chat(chat_id),
                language=language,
                access_token=self._sealer.seal(access_token),
                last_status=status,
                active=False,
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
                .where(
                    StatusSubscription.id == offer_id, StatusSubscription.chat_hash == self._sealer.chat_hash(chat_id)
                )
                .values(active=True, language=language)
            )
            return result.rowcount == 1

    async def active(self) -> list[ActiveSubscription]:
        """The active subscriptions, decrypted; those no configured key decrypts are left out (and logged)."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(StatusSubscription).where(StatusSubscription.active.is_(True)))).all()
        found, unreadable = [], []
        for row in rows:
            try:
                chat_id, token = self._sealer.open_chat(row.chat_sealed), self._sealer.open(row.access_token)
            except DataKeyError:
                unreadable.append(row.id)
                continue
            found.append(ActiveSubscription(row.id, chat_id, row.language, token, row.last_status))
        if unreadable:
            log.warning(
                "subscriptions %s skipped: encrypted with a data key no longer configured",
                ", ".join(map(str, unreadable)),
            )
        return found

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
