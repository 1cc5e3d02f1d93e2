"""The Overview's counts on SQLite and PostgreSQL: added by upsert, by two writers at once, kept through a failed
write, with nothing personal in their tables."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy import select, text

from analytics.counting import UsageCounter
from analytics.tables import UsageConversation, UsageCount
from core.bootstrap import open_database
from core.coordination import MemoryCoordination

DAY = dt.date(2026, 12, 1)


def chat_hash(chat_id: int) -> str:
    return f"h{chat_id:08d}"


async def counts(database) -> dict[tuple, int]:
    async with database.sessions() as session:
        rows = (await session.execute(select(UsageCount))).scalars().all()
    return {(r.day, r.language, r.channel, r.outcome, r.entry): r.count for r in rows}


async def conversations(database) -> dict[tuple, int]:
    async with database.sessions() as session:
        rows = (await session.execute(select(UsageConversation))).scalars().all()
    return {(r.day, r.language): r.count for r in rows}


async def test_counts_are_added_to_their_rows_and_a_chat_is_one_conversation_a_day(db_settings):
    database = await open_database(db_settings)
    today = [DAY]
    counter = UsageCounter(database.sessions, MemoryCoordination(), chat_hash, 60, lambda: today[0])
    try:
        counter.count(1, "ru", "answered", "text", "visa_evisa_asan")
        counter.count(1, "ru", "answered", "button", "visa_evisa_asan")
        counter.count(2, "ru", "did_you_mean", "text")
        counter.count(3, "az", "answered", "text", "visa_evisa_asan")
        assert counter.pending == 4
        await counter.flush()
        assert counter.pending == 0
        counter.count(1, "ru", "answered", "text", "visa_evisa_asan")  # the same chat again, the same day
        await counter.flush()
        today[0] = DAY + dt.timedelta(days=1)
        counter.count(1, "ru", "handed_over", "text")  # and the next day
        await counter.flush()
        await counter.flush()  # nothing new: no change

        assert await counts(database) == {
            (DAY, "ru", "text", "answered", "visa_evisa_asan"): 2,
            (DAY, "ru", "button", "answered", "visa_evisa_asan"): 1,
            (DAY, "ru", "text", "did_you_mean", ""): 1,
            (DAY, "az", "text", "answered", "visa_evisa_asan"): 1,
            (DAY + dt.timedelta(days=1), "ru", "text", "handed_over", ""): 1,
        }
        assert await conversations(database) == {
            (DAY, "ru"): 2,
            (DAY, "az"): 1,
            (DAY + dt.timedelta(days=1), "ru"): 1,
        }
    finally:
        await database.close()


async def test_two_writers_at_once_lose_nothing(db_settings, coordination):
    """Two gateway replicas (two counters, two connection pools) flushing the same rows at the same time, many
    times over: every count arrives, and a chat seen by both is one conversation."""
    databases = [await open_database(db_settings) for _ in range(2)]
    writers = [UsageCounter(d.sessions, coordination, chat_hash, 60, lambda: DAY) for d in databases]
    try:
        rounds = 25

        async def write(counter: UsageCounter, offset: int) -> None:
            for i in range(rounds):
                for language in ("az", "ru", "en"):
                    counter.count(100 + i % 5, language, "answered", "text", "visa_evisa_asan")
                    counter.count(200 + offset, language, "not_understood", "button")
                await counter.flush()

        await asyncio.gather(*(write(w, n) for n, w in enumerate(writers)))
        found = await counts(databases[0])
        for language in ("az", "ru", "en"):
            assert found[(DAY, language, "text", "answered", "visa_evisa_asan")] == 2 * rounds
            assert found[(DAY, language, "button", "not_understood", "")] == 2 * rounds
        # chats 100-104 wrote through both replicas, 200 and 201 through one each, each first in Azerbaijani
        assert await conversations(databases[0]) == {(DAY, "az"): 7}
    finally:
        for database in databases:
            await database.close()


class BrokenSessions:
    """A database that refuses every write, as a database that is down does."""

    def __call__(self):
        raise OSError("connection refused")


async def test_a_failed_write_keeps_the_counts_for_the_next(db_settings, caplog):
    caplog.set_level(logging.INFO, "analytics")
    database = await open_database(db_settings)
    broken: Any = BrokenSessions()
    counter = UsageCounter(broken, MemoryCoordination(), chat_hash, 60, lambda: DAY)
    try:
        counter.count(1, "en", "answered", "text", "visa_evisa_asan")
        counter.count(2, "en", "out_of_scope", "text")
        for _ in range(3):
            await counter._flush_in_background()
        assert counter.pending == 2
        assert sum("usage counts not written" in r.getMessage() for r in caplog.records) == 1  # one line, not three
        counter.count(1, "en", "answered", "text", "visa_evisa_asan")
        counter._sessions = database.sessions
        await counter._flush_in_background()
        assert counter.pending == 0
        assert await counts(database) == {
            (DAY, "en", "text", "answered", "visa_evisa_asan"): 2,
            (DAY, "en", "text", "out_of_scope", ""): 1,
        }
        assert await conversations(database) == {(DAY, "en"): 2}
        assert any("usage counts written again" in r.getMessage() for r in caplog.records)
    finally:
        await database.close()


async def test_stopping_writes_what_is_left(db_settings):
    database = await open_database(db_settings)
    counter = UsageCounter(database.sessions, MemoryCoordination(), chat_hash, 3600, lambda: DAY)
    try:
        counter.start()
        counter.count(7, "az", "status_found", "text")
        await counter.stop()
        assert await counts(database) == {(DAY, "az", "text", "status_found", ""): 1}
    finally:
        await database.close()


@pytest.mark.parametrize("table", ["usage_counts", "usage_conversations"])
async def test_the_tables_hold_counts_only(db_settings, table):
    """No column could hold a chat, a text or a hash of one: the schema itself says counts only."""
    database = await open_database(db_settings)
    try:
        async with database.sessions() as session:
            columns = (await session.execute(text(f"SELECT * FROM {table} WHERE 1 = 0"))).keys()
        assert set(columns) <= {"day", "language", "channel", "outcome", "entry", "count"}
    finally:
        await database.close()


class AwayStore(MemoryCoordination):
    """A coordination store that is down (Redis refusing), then back."""

    def __init__(self) -> None:
        super().__init__()
        self.away = True
        self.asked = 0

    async def first_time(self, key: str, ttl_s: float) -> bool:
        self.asked += 1
        if self.away:
            raise ConnectionRefusedError("store away")
        return await super().first_time(key, ttl_s)


async def test_without_the_store_messages_are_written_and_a_chat_is_still_one_conversation(db_settings, caplog):
    database = await open_database(db_settings)
    store = AwayStore()
    counter = UsageCounter(database.sessions, store, chat_hash, 60, lambda: DAY)
    try:
        for _ in range(3):  # the same chats at every flush: counted once, from this replica's memory
            counter.count(1, "en", "answered", "text", "visa_evisa_asan")
            counter.count(2, "ru", "other", "text")
            await counter.flush()
        assert await conversations(database) == {(DAY, "en"): 1, (DAY, "ru"): 1}
        assert sum((await counts(database)).values()) == 6
        assert sum("without the coordination store" in r.getMessage() for r in caplog.records) == 1
        store.away = False
        counter.count(1, "en", "answered", "text", "visa_evisa_asan")
        counter.count(3, "en", "answered", "text", "visa_evisa_asan")
        await counter.flush()
        # chat 1 is new to the store, and counts once more (another replica might have counted it meanwhile:
        # a little high rather than missing); chat 3 is new
        assert await conversations(database) == {(DAY, "en"): 3, (DAY, "ru"): 1}
    finally:
        await database.close()


async def test_a_flush_cancelled_while_asking_the_store_loses_no_chat(db_settings):
    database = await open_database(db_settings)

    class SlowStore(MemoryCoordination):
        async def first_time(self, key: str, ttl_s: float) -> bool:
            await asyncio.sleep(10)
            return True

    counter = UsageCounter(database.sessions, SlowStore(), chat_hash, 60, lambda: DAY)
    try:
        counter.count(1, "az", "answered", "text", "visa_evisa_asan")
        flushing = asyncio.create_task(counter.flush())
        await asyncio.sleep(0.2)
        flushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flushing
        assert await counts(database) == {(DAY, "az", "text", "answered", "visa_evisa_asan"): 1}  # written first
        counter._coordination = MemoryCoordination()
        await counter.flush()
        assert await conversations(database) == {(DAY, "az"): 1}
    finally:
        await database.close()
