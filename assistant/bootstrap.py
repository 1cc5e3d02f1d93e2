"""Opening our database: migrated to the current schema, and the knowledge base seeded the first time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import bot.models  # noqa: F401 - registers the gateway's tables
import cases.models  # noqa: F401 - registers the status feature's tables
import console.models  # noqa: F401 - registers the staff console's tables
import handoff.models  # noqa: F401 - registers the handoff tickets' tables
import knowledge.models  # noqa: F401 - registers the knowledge base's tables
from assistant.db import make_engine, sessionmaker
from assistant.migrations import upgrade
from assistant.settings import Settings
from knowledge.schema import SEED_DIR, load_dir
from knowledge.store import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker

    async def close(self) -> None:
        await self.engine.dispose()


async def open_database(settings: Settings, *, seed: bool = True) -> Database:
    await upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    database = Database(engine, sessionmaker(engine))
    if seed:
        kb = KnowledgeBase(database.sessions)
        written = await kb.add_missing(load_dir(SEED_DIR))
        if written:
            log.info("seeded the knowledge base with %d new entries", written)
    return database


@asynccontextmanager
async def knowledge_base(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    """The knowledge base for a short task (training, validation, a CLI command), closed afterwards."""
    database = await open_database(settings)
    try:
        yield KnowledgeBase(database.sessions)
    finally:
        await database.close()
