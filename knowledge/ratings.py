"""Users' 👍/👎 on answers. Chats are stored as keyed hashes: votes can be counted, never traced back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.secret_key import keyed_hash
from knowledge.models import Entry, Rating


class Ratings:
    def __init__(self, sessions: async_sessionmaker, secret: bytes) -> None:
        self._sessions = sessions
        self._secret = secret

    def _chat_hash(self, chat_id: int) -> str:
        return keyed_hash(self._secret, str(chat_id))

    async def record(self, key: str, language: str, value: int, chat_id: int, message_id: int) -> bool:
        """Stores (or changes) the vote on one answer message; False for an unknown entry (forged data)."""
        if value not in (1, -1):
            return False
        chat_hash = self._chat_hash(chat_id)
        async with self._sessions() as session, session.begin():
            if await session.scalar(select(Entry.id).where(Entry.key == key)) is None:
                return False
            vote = await session.scalar(
                select(Rating).where(Rating.chat_hash == chat_hash, Rating.message_id == message_id)
            )
            if vote is None:
                session.add(Rating(key=key, language=language, value=value, chat_hash=chat_hash, message_id=message_id))
            else:
                vote.value = value
        return True
