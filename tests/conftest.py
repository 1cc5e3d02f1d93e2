"""Shared fixtures. End-to-end fixtures (trained model, running stack) live in tests/e2e_support.py."""

from __future__ import annotations

import secrets
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from telegram import Bot

from assistant.launcher import free_port  # the tests import it from here too
from benchmarks.services import database_for_tests, redis_for_tests
from core.data_key import make_key_files
from core.settings import Settings
from telegram_emulator.server import make_app
from tests.support.background_training import BackgroundTraining

TOKEN = "123456789:test-token-for-the-emulator"


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


@pytest.fixture
async def bot(emulator: str) -> AsyncIterator[Bot]:
    """A real python-telegram-bot `Bot` on the emulator: the assistant's side of a chat, for the emulator's
    own tests and those of the clients that drive it."""
    async with Bot(TOKEN, base_url=f"{emulator}/bot") as bot:
        yield bot


def pytest_configure(config: pytest.Config) -> None:
    """A terminated run (SIGTERM: a CI timeout, `kill`) tears down like one interrupted by Ctrl-C, so the servers
    this session started (`postgres_url`, `redis_url`) are stopped and their folders removed."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database the tests may drop tables in: a server of this session's own, started when a test
    first needs it and stopped at the end (or `ASSISTANT_TEST_DATABASE_URL`; benchmarks/services.py)."""
    with database_for_tests() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_settings(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Settings]:
    """Settings for our database on both supported backends: embedded SQLite and a real PostgreSQL.

    Our tables are dropped from the PostgreSQL database before and after, so each test starts empty.
    """
    if request.param == "sqlite":
        yield Settings(_env_file=None, data_dir=tmp_path)
        return
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=request.getfixturevalue("postgres_url"))
    make_key_files(settings)  # a shared database: keys are never made on the fly, here as `run` makes them
    await _drop_all(settings)
    yield settings
    await _drop_all(settings)


async def _drop_all(settings: Settings) -> None:
    """Every table in the database, whichever package's models this test imported (read from the database)."""
    from sqlalchemy import MetaData

    from core.db import make_engine

    def drop(connection) -> None:
        tables = MetaData()
        tables.reflect(connection)
        tables.drop_all(connection)

    engine = make_engine(settings.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.run_sync(drop)
    await engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis the tests share under namespaces of their own: a server of this session's own, without
    persistence, started when a test first needs it (or `ASSISTANT_TEST_REDIS_URL`; benchmarks/services.py)."""
    with redis_for_tests() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def coordination(request: pytest.FixtureRequest) -> AsyncIterator:
    """Both coordination backends: in-process, and a real Redis under a namespace of this test's own (removed
    afterwards), so tests never see each other's keys."""
    from core.coordination import MemoryCoordination, RedisCoordination

    if request.param == "memory":
        yield MemoryCoordination()
        return
    url = request.getfixturevalue("redis_url")
    namespace = f"test-{secrets.token_hex(6)}"
    store = RedisCoordination(url, namespace)
    try:
        yield store
    finally:
        await redis_cleanup(url, namespace)
        await store.close()


async def redis_cleanup(url: str, namespace: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
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
    training in the background now (tests/support/background_training.py), so the other tests run meanwhile instead of
    after it. Run alone, such tests train it in the foreground as before."""
    needs = [item for item in items if "shipped_model" in getattr(item, "fixturenames", ())]
    if not needs or len(needs) == len(items):
        return
    items[:] = [item for item in items if item not in needs] + needs
    if not config.option.collectonly:
        factory = config._tmp_path_factory  # type: ignore[attr-defined]  # pytest's, no fixture in this hook
        config.stash[_TRAINING] = BackgroundTraining.start(factory.mktemp("shipped-model"))


@pytest.fixture(scope="session")
def shipped_model(pytestconfig: pytest.Config) -> None:
    """The shipped data's model is in models/, where `ensure_model` finds it by its fingerprint, once the
    background training has finished; without one (or should it fail) the first `ensure_model` trains it."""
    training = pytestconfig.stash.get(_TRAINING, None)
    if training is None:
        return
    training.wait()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run if any process of any test logged personal data in clear (tests/support/log_scan.py)."""
    from tests.support.log_scan import findings, log_files

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
