"""Ratings count once per user and entry, and only for answers the gateway really sent with those buttons."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from alembic import command

from core.bootstrap import Database
from core.data_key import Sealer, new_data_key
from core.db import make_engine
from core.migrations import alembic_config
from core.secret_key import keyed_hash
from core.settings import Settings
from knowledge.curation import Curation
from knowledge.ratings import Ratings
from knowledge.seeding import open_seeded

SECRET = b"test secret"
CHAT_HASH = Sealer([new_data_key()], SECRET).chat_hash  # what the gateway hands in
ENTRY, OTHER = "registration_who_when_how", "visa_evisa_asan"


@pytest.fixture
async def database(db_settings: Settings) -> AsyncIterator[Database]:
    database = await open_seeded(db_settings)
    try:
        yield database
    finally:
        await database.close()


async def votes(database: Database, key: str = ENTRY) -> tuple[int, int]:
    counted = await Curation(database.sessions).votes(key)
    return counted.thumbs_up, counted.thumbs_down


async def test_a_press_counts_only_for_an_answer_sent_with_that_entrys_buttons(database):
    ratings = Ratings(database.sessions, CHAT_HASH)
    await ratings.sent(chat_id=7, message_id=10, key=ENTRY)
    assert not await ratings.record(ENTRY, "en", -1, 7, 11)  # a message id never sent
    assert not await ratings.record(OTHER, "en", -1, 7, 10)  # another entry's data under this answer
    assert not await ratings.record(ENTRY, "en", -1, 8, 10)  # the same message id in another chat
    assert not await ratings.record("no_such_entry", "en", -1, 7, 10)
    assert not await ratings.record(ENTRY, "en", 5, 7, 10)  # only +1 and -1
    assert await votes(database) == (0, 0)
    assert await ratings.record(ENTRY, "en", -1, 7, 10)
    assert await votes(database) == (0, 1)
    async with database.engine.connect() as connection:
        stored = (await connection.execute(sa.text("SELECT chat_hash FROM kb_ratings"))).scalar_one()
    assert stored == keyed_hash(SECRET, "7"), "the same pseudonym as before: older votes still match"


async def test_one_vote_per_user_and_entry_whichever_answer_it_is_pressed_under(database):
    ratings = Ratings(database.sessions, CHAT_HASH)
    for message_id in (20, 21, 22):  # the same entry answered three times
        await ratings.sent(7, message_id, ENTRY)
    await ratings.sent(7, 23, OTHER)
    await ratings.sent(8, 20, ENTRY)  # another user's answer with the same message id
    for message_id in (20, 21, 22, 20, 21):
        assert await ratings.record(ENTRY, "en", -1, 7, message_id)
    assert await votes(database) == (0, 1)
    assert await ratings.record(ENTRY, "ru", 1, 7, 22)  # changes the vote, does not add one
    assert await ratings.record(OTHER, "en", -1, 7, 23)
    assert await ratings.record(ENTRY, "az", -1, 8, 20)
    assert await votes(database) == (1, 1)
    assert await votes(database, OTHER) == (0, 1)


async def test_sent_answers_are_forgotten_after_a_while_and_their_buttons_stop_counting(database):
    ratings = Ratings(database.sessions, CHAT_HASH, keep_days=30)
    await ratings.sent(7, 30, ENTRY)
    await ratings.sent(7, 31, ENTRY)
    assert await ratings.prune(now=dt.datetime.now(dt.UTC)) == 0
    assert await ratings.prune(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31)) == 2
    assert not await ratings.record(ENTRY, "en", 1, 7, 30)
    assert await votes(database) == (0, 0)


async def test_replicas_and_restarts_share_what_was_sent(db_settings):
    first, second = await open_seeded(db_settings), await open_seeded(db_settings)
    try:
        await Ratings(first.sessions, CHAT_HASH).sent(9, 40, ENTRY)
        both = await asyncio.gather(
            Ratings(first.sessions, CHAT_HASH).record(ENTRY, "en", 1, 9, 40),
            Ratings(second.sessions, CHAT_HASH).record(ENTRY, "en", -1, 9, 40),
        )
        assert all(both)
        assert sum(await votes(first)) == 1  # racing replicas still count the user once
    finally:
        await first.close()
        await second.close()


async def test_the_migration_keeps_each_users_latest_vote_per_entry(db_settings):
    config = alembic_config(db_settings)
    await asyncio.to_thread(command.upgrade, config, "5d2f1b8c3e02")
    rows = [  # chat a voted 👎 under two answers of one entry, then 👍 under a third; chat b once
        {"key": ENTRY, "language": "en", "value": -1, "chat_hash": "a", "message_id": 1},
        {"key": ENTRY, "language": "en", "value": -1, "chat_hash": "a", "message_id": 2},
        {"key": ENTRY, "language": "en", "value": 1, "chat_hash": "a", "message_id": 3},
        {"key": OTHER, "language": "en", "value": -1, "chat_hash": "a", "message_id": 4},
        {"key": ENTRY, "language": "az", "value": -1, "chat_hash": "b", "message_id": 1},
    ]
    table = sa.table("kb_ratings", *(sa.column(c) for c in rows[0]))
    select = sa.text("SELECT chat_hash, key, value, message_id FROM kb_ratings ORDER BY chat_hash, key")
    engine = make_engine(db_settings.sqlalchemy_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(table.insert(), rows)
        await asyncio.to_thread(command.upgrade, config, "6e3a2c9d4f03")
        async with engine.begin() as connection:
            kept = [tuple(row) for row in await connection.execute(select)]
            assert kept == [("a", ENTRY, 1, 3), ("a", OTHER, -1, 4), ("b", ENTRY, -1, 1)]
            with pytest.raises(sa.exc.IntegrityError):  # one vote per chat and entry from now on
                async with connection.begin_nested():
                    await connection.execute(table.insert(), [{**rows[0], "message_id": 9}])
        await asyncio.to_thread(command.downgrade, config, "5d2f1b8c3e02")
        async with engine.begin() as connection:
            assert [tuple(row) for row in await connection.execute(select)] == kept
            tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            assert "kb_sent_answers" not in tables
            with pytest.raises(sa.exc.IntegrityError):  # one vote per message again
                async with connection.begin_nested():
                    await connection.execute(table.insert(), [{**rows[2], "key": "x"}])
        await asyncio.to_thread(command.upgrade, config, "6e3a2c9d4f03")
    finally:
        await engine.dispose()
