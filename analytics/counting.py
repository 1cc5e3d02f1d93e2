"""The gateway's counts for the Overview: kept in memory as replies go out, added to the database every few
seconds in one write.

`count()` does no I/O, so it never delays or fails a reply. `flush()` runs in the background. It adds each
count to its row with an upsert (`count = count + n`), so several gateway replicas add to the same rows
without losing any. A failed write keeps the counts in memory for the next try. Counts are additive, so a
retry never counts twice what the database did not take.

A conversation is a chat's day: the first message of a chat on a day (Baku time) counts one, in that
message's language (so the languages' conversations add up to the chats served). Replicas agree on "first"
through the coordination store (Redis when there are several). Its key holds a keyed hash of the chat, and
it expires after two days. The tables hold no trace of the chat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from analytics.tables import UsageConversation, UsageCount
from core.coordination import Coordination, store_errors
from core.i18n import BAKU
from core.metrics import REPLIES
from core.periodic import Periodic

log = logging.getLogger(__name__)
CONVERSATION_KEY_TTL_S = 2 * 86400.0  # longer than a day in any time zone, short enough to forget the chat


@dataclass(frozen=True, order=True)
class MessageKey:
    day: dt.date
    language: str
    channel: str
    outcome: str
    entry: str


@dataclass(frozen=True, order=True)
class ConversationKey:
    day: dt.date
    language: str


def baku_today() -> dt.date:
    return dt.datetime.now(BAKU).date()


class UsageCounter:
    def __init__(
        self,
        sessions: async_sessionmaker,
        coordination: Coordination,
        chat_hash: Callable[[int], str],
        flush_s: float,
        today: Callable[[], dt.date] = baku_today,
    ) -> None:
        """`chat_hash`: the chat's keyed pseudonym (`Sealer.chat_hash`); `today`: the day counts go to."""
        self._sessions = sessions
        self._coordination = coordination
        self._chat_hash = chat_hash
        self._today = today
        self._messages: Counter[MessageKey] = Counter()
        self._conversations: Counter[ConversationKey] = Counter()
        # (day, chat hash) -> the language of its first message since the last flush: looked up at the flush
        self._chats: dict[tuple[dt.date, str], str] = {}
        self._job = Periodic("usage counts", self._flush_in_background, flush_s)
        self._failing = False

    def count(self, chat_id: int, language: str, outcome: str, channel: str, entry: str | None = None) -> None:
        """One message answered: in memory only."""
        day = self._today()
        self._messages[MessageKey(day, language, channel, outcome, entry or "")] += 1
        self._chats.setdefault((day, self._chat_hash(chat_id)), language)
        REPLIES.labels(language, outcome, channel).inc()

    @property
    def pending(self) -> int:
        """Messages counted but not yet in the database."""
        return sum(self._messages.values())

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        """Stops the background writes and writes what is left (at a clean shutdown nothing is lost)."""
        await self._job.stop()
        try:
            await self.flush()
        except (SQLAlchemyError, OSError) as error:
            log.error("usage counts of %d messages not written at shutdown (%s)", self.pending, type(error).__name__)

    async def _flush_in_background(self) -> None:
        """One line when writes start failing and one when they work again, not one every few seconds."""
        try:
            await self.flush()
        except (SQLAlchemyError, OSError) as error:
            if not self._failing:
                log.error("usage counts not written (%s): kept in memory, tried again", type(error).__name__)
            self._failing = True
            return
        if self._failing:
            log.info("usage counts written again")
        self._failing = False

    async def flush(self) -> None:
        await self._new_conversations()
        messages, conversations = self._messages, self._conversations
        if not messages and not conversations:
            return
        self._messages, self._conversations = Counter(), Counter()
        try:
            async with self._sessions() as session, session.begin():
                dialect = session.bind.dialect.name
                if messages:
                    rows = [{**vars(key), "count": n} for key, n in sorted(messages.items())]
                    await session.execute(_add_to(UsageCount, dialect, rows))
                if conversations:
                    rows = [{**vars(key), "count": n} for key, n in sorted(conversations.items())]
                    await session.execute(_add_to(UsageConversation, dialect, rows))
        except BaseException:
            self._messages.update(messages)  # taken again at the next flush: counts are additive
            self._conversations.update(conversations)
            raise

    async def _new_conversations(self) -> None:
        """Turns the chats heard from since the last flush into conversation counts: those each replica's
        store has not seen that day. Without the store, a chat counts (more than once a day, then): a count
        a little high beats a count missing."""
        chats, self._chats = self._chats, {}
        for (day, chat), language in chats.items():
            try:
                first = await self._coordination.first_time(
                    f"usage:conversation:{day.isoformat()}:{chat}", CONVERSATION_KEY_TTL_S
                )
            except store_errors() as error:
                log.warning("conversation count without the coordination store (%s)", type(error).__name__)
                first = True
            if first:
                self._conversations[ConversationKey(day, language)] += 1


def _add_to(model: type[UsageCount] | type[UsageConversation], dialect: str, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT (the key) DO UPDATE SET count = count + the new count: one atomic statement on
    SQLite and PostgreSQL. Rows go in key order, so two writers lock them in the same order (no deadlock)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(rows)
    keys = [column.name for column in model.__table__.primary_key]
    return statement.on_conflict_do_update(index_elements=keys, set_={"count": model.count + statement.excluded.count})
