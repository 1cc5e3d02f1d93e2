"""Alembic environment: our models' metadata, the URL from the settings, async engines (aiosqlite/asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import analytics.tables  # noqa: F401 - each domain package's tables, for autogenerate's comparison
import bot.models  # noqa: F401
import cases.models  # noqa: F401
import console.models  # noqa: F401
import handoff.models  # noqa: F401
import knowledge.models  # noqa: F401
import training.tables  # noqa: F401
from core.db import Base, make_engine

config = context.config
target_metadata = Base.metadata
if not config.get_main_option("sqlalchemy.url"):  # the plain `alembic` CLI: take the URL from the settings
    from core.settings import Settings

    config.set_main_option("sqlalchemy.url", Settings().sqlalchemy_url.replace("%", "%%"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(727072)"))  # one migrator at a time
        context.run_migrations()


async def _online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
