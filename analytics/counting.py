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

import asyncio
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
STORE_DEADLINE_S = 10.0  # for the store's answers about a flush's chats, all together
ROWS_PER_STATEMENT = 1000


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
        self._store_failing = False
        self._seen: dict[dt.date, set[str]] = {}  # the chats this replica saw, by day (the last two days)

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
        """Adds what was counted since the last flush to the database: the messages first, whatever the
        coordination store does, then the conversations."""
        messages, self._messages = self._messages, Counter()
        try:
            await self._write(UsageCount, messages)
        except BaseException:
            self._messages.update(messages)  # taken again at the next flush: counts are additive
            raise
        await self._new_conversations()
        conversations, self._conversations = self._conversations, Counter()
        try:
            await self._write(UsageConversation, conversations)
        except BaseException:
            self._conversations.update(conversations)
            raise

    async def _write(self, model: type[UsageCount] | type[UsageConversation], counts: Counter[Any]) -> None:
        if not counts:
            return
        rows = [{**vars(key), "count": n} for key, n in sorted(counts.items())]
        async with self._sessions() as session, session.begin():
            dialect = session.bind.dialect.name
            # In parts: a statement takes at most 32 766 parameters, and after a long outage there are many rows.
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                await session.execute(_add_to(model, dialect, rows[start : start + ROWS_PER_STATEMENT]))

    async def _new_conversations(self) -> None:
        """Turns the chats heard from since the last flush into conversation counts: those the coordination
        store (every replica's) has not seen that day, asked within STORE_DEADLINE_S for them all. Without the
        store, this replica's own memory of the last two days' chats answers, so a chat is not counted again
        at every flush (another replica may count it once more: a count a little high beats one missing)."""
        chats, self._chats = self._chats, {}
        items = list(chats.items())
        yesterday = self._today() - dt.timedelta(days=1)
        self._seen = {day: seen for day, seen in self._seen.items() if day >= yesterday}

        async def ask_the_store() -> list[bool]:  # a hundred at a time: not a connection per chat
            answers: list[bool] = []
            for start in range(0, len(items), 100):
                part = items[start : start + 100]
                answers += await asyncio.gather(*(self._first_in_store(day, chat) for (day, chat), _ in part))
            return answers

        try:
            firsts = await asyncio.wait_for(ask_the_store(), STORE_DEADLINE_S)
            if self._store_failing:
                log.info("conversations counted through the coordination store again")
            self._store_failing = False
        except BaseException as error:
            if not isinstance(error, (TimeoutError, *store_errors())):
                for key, language in items:  # cancelled (stopping): the chats are counted at the last flush
                    self._chats.setdefault(key, language)
                raise
            if not self._store_failing:
                log.warning("conversations counted without the coordination store (%s)", type(error).__name__)
            self._store_failing = True
            firsts = [self._first_here(day, chat) for (day, chat), _ in items]
        for ((day, _), language), first in zip(items, firsts, strict=True):
            if first:
                self._conversations[ConversationKey(day, language)] += 1

    async def _first_in_store(self, day: dt.date, chat: str) -> bool:
        first = await self._coordination.first_time(
            f"usage:conversation:{day.isoformat()}:{chat}", CONVERSATION_KEY_TTL_S
        )
        self._first_here(day, chat)  # remembered here too, for when the store is away
        return first

    def _first_here(self, day: dt.date, chat: str) -> bool:
        seen = self._seen.setdefault(day, set())
        if chat in seen:
            return False
        seen.add(chat)
        return True


def _add_to(model: type[UsageCount] | type[UsageConversation], dialect: str, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT (the key) DO UPDATE SET count = count + the new count: one atomic statement on
    SQLite and PostgreSQL. Rows go in key order, so two writers lock them in the same order (no deadlock)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(rows)
    keys = [column.name for column in model.__table__.primary_key]
    return statement.on_conflict_do_update(index_elements=keys, set_={"count": model.count + statement.excluded.count})
