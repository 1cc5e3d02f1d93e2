"""Shared fixtures. End-to-end fixtures (trained model, running stack) live in tests/e2e_support.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from assistant.launcher import free_port  # noqa: F401 - the tests' import of it
from assistant.settings import Settings
from telegram_emulator.server import make_app

TOKEN = "123456789:test-token-for-the-emulator"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    """A Bot API emulator on a free loopback port; yields its base URL."""
    runner = web.AppRunner(make_app())
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_settings(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Settings]:
    """Settings for our database on both supported backends: embedded SQLite and a real PostgreSQL.

    The PostgreSQL database is the machine's `test` database; our tables are dropped before and after so
    each test starts empty.
    """
    if request.param == "sqlite":
        yield Settings(_env_file=None, data_dir=tmp_path)
        return
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=POSTGRES_URL)
    await _drop_all(settings)
    yield settings
    await _drop_all(settings)


async def _drop_all(settings: Settings) -> None:
    import assistant.bootstrap  # noqa: F401 - registers every model
    from assistant.db import Base, make_engine

    engine = make_engine(settings.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await engine.dispose()
