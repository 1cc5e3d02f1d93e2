"""Shared fixtures. End-to-end fixtures (trained model, running stack) live in tests/e2e_support.py."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from assistant.launcher import free_port  # noqa: F401 - the tests' import of it
from assistant.settings import Settings
from telegram_emulator.server import make_app
from tests.background_training import BackgroundTraining

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


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def coordination(request: pytest.FixtureRequest) -> AsyncIterator:
    """Both coordination backends: in-process, and the machine's real Redis under a namespace of this test's
    own (removed afterwards), so tests never see each other's keys."""
    from assistant.coordination import MemoryCoordination, RedisCoordination

    if request.param == "memory":
        yield MemoryCoordination()
        return
    namespace = f"test-{secrets.token_hex(6)}"
    store = RedisCoordination(REDIS_URL, namespace)
    try:
        yield store
    finally:
        await redis_cleanup(namespace)
        await store.close()


async def redis_cleanup(namespace: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ------------------------------------------------------------------ the shipped data's model

_TRAINING = pytest.StashKey[BackgroundTraining]()


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` have deselected: a deselected test needs no model
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need the model of the shipped data (fixture `shipped_model`) run last, and that model starts
    training in the background now (tests/background_training.py), so the other tests run meanwhile instead of
    after it. Run alone, such tests train it in the foreground as before."""
    needs = [item for item in items if "shipped_model" in getattr(item, "fixturenames", ())]
    if not needs or len(needs) == len(items):
        return
    items[:] = [item for item in items if item not in needs] + needs
    if not config.option.collectonly:
        config.stash[_TRAINING] = BackgroundTraining.start(config._tmp_path_factory.mktemp("shipped-model"))


@pytest.fixture(scope="session")
def shipped_model(pytestconfig: pytest.Config) -> None:
    """The shipped data's model is in models/, where `ensure_model` finds it by its fingerprint, once the
    background training has finished; without one (or should it fail) the first `ensure_model` trains it."""
    training = pytestconfig.stash.get(_TRAINING, None)
    if training is None:
        return
    training.wait()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run if any process of any test logged personal data in clear (tests/log_scan.py)."""
    from tests.log_scan import findings, log_files

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    training = session.config.stash.get(_TRAINING, None)
    if training is not None:
        training.stop()
        if reporter is not None:
            reporter.write_line(f"background training: {training.summary()}")
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    files = log_files(factory.getbasetemp())
    found = findings(files)
    if reporter is not None:
        reporter.write_line(f"log scan: {len(files)} log files of this run, {len(found)} lines with personal data")
        for line in found[:20]:
            reporter.write_line(f"  {line}", red=True)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
