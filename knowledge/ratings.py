"""Users' 👍/👎 on answers. Chats are stored as keyed hashes: votes can be counted, never traced back.

Callback data is chosen by the client, and a modified client can send any data under any message id. So a
press counts only for an answer the gateway really sent to that chat with that entry's buttons (recorded
when it was sent), and a user has one vote per entry: pressing again, under this answer or another answer
of the same entry, changes the vote instead of adding one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.models import Entry, Rating, SentAnswer

KEEP_SENT_DAYS = 30  # after that, an answer's buttons are "no longer active"
PRUNE_EVERY_S = 3600.0


class Ratings:
    def __init__(
        self, sessions: async_sessionmaker, chat_hash: Callable[[int], str], keep_days: float = KEEP_SENT_DAYS
    ) -> None:
        """`chat_hash`: the chat's pseudonym, the one every table uses (`Sealer.chat_hash`, core/data_key.py)."""
        self._sessions = sessions
        self._chat_hash = chat_hash
        self.keep = dt.timedelta(days=keep_days)
        self._pruned_at = float("-inf")

    async def sent(self, chat_id: int, message_id: int, key: str) -> None:
        """Records an answer sent with rating buttons for entry `key`; now and then forgets old ones."""
        async with self._sessions() as session, session.begin():
            await session.merge(SentAnswer(chat_hash=self._chat_hash(chat_id), message_id=message_id, key=key))
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            await self.prune()

    async def prune(self, now: dt.datetime | None = None) -> int:
        """Forgets answers sent longer ago than `keep`: their buttons no longer count. Returns how many."""
        before = (now or dt.datetime.now(dt.UTC)) - self.keep
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(SentAnswer).where(SentAnswer.sent_at < before))
        return result.rowcount or 0

    async def record(self, key: str, language: str, value: int, chat_id: int, message_id: int) -> bool:
        """Stores (or changes) the chat's vote on entry `key`; False unless message `message_id` of this chat
        is an answer sent with the buttons of that entry (forged or expired presses)."""
        if value not in (1, -1):
            return False
        chat_hash = self._chat_hash(chat_id)
        try:
            return await self._record(chat_hash, key, language, value, message_id)
        except IntegrityError:  # another replica stored this chat's first vote on the entry just now: change it
            return await self._record(chat_hash, key, language, value, message_id)

    async def _record(self, chat_hash: str, key: str, language: str, value: int, message_id: int) -> bool:
        async with self._sessions() as session, session.begin():
            answer = await session.get(SentAnswer, (chat_hash, message_id))
            if answer is None or answer.key != key:
                return False
            if await session.scalar(select(Entry.id).where(Entry.key == key)) is None:
                return False  # the entry was removed since
            vote = await session.scalar(select(Rating).where(Rating.chat_hash == chat_hash, Rating.key == key))
            if vote is None:
                session.add(Rating(key=key, language=language, value=value, chat_hash=chat_hash, message_id=message_id))
            else:
                vote.value, vote.language, vote.message_id = value, language, message_id
        return True
