"""Opening our database: migrated to the current schema (every process does this as it starts).

Each domain package owns its tables (their models modules); Alembic's environment (migrations/env.py) imports
them all. Seeding the knowledge base is the knowledge package's business (knowledge/seeding.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from core.db import make_engine, sessionmaker
from core.migrations import upgrade
from core.settings import Settings


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker

    async def close(self) -> None:
        await self.engine.dispose()


async def open_database(settings: Settings) -> Database:
    await upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    return Database(engine, sessionmaker(engine))
