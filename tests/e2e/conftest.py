"""The real stack for end-to-end tests: trained model (cached by fingerprint), emulator, action server,
Rasa engine and gateway as separate processes on free loopback ports, exactly as `make run` starts them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from assistant.launcher import Stack, loopback_settings
from benchmarks.publishing import create_staff
from core.settings import Settings
from knowledge.seeding import knowledge_base
from telegram_emulator.driver import EmulatorDriver
from training.trainer import ensure_model


@dataclass
class RunningStack:
    settings: Settings
    stack: Stack
    driver: EmulatorDriver

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.console_port}"


def e2e_settings(data_dir: Path) -> Settings:
    # Test users type much faster than people (a whole status form in a second): flood control would stop
    # them; it has its own tests (tests/bot/test_gateway.py).
    return loopback_settings(
        data_dir, max_message_chars=1000, status_poll_interval_s=1.0, log_level="INFO", flood_messages=1000
    )


@pytest.fixture(scope="session", autouse=True)
def _serves_the_shipped_model(shipped_model: None) -> None:
    """Every end-to-end test serves the shipped data's model, so they run after the other tests, which run
    while it trains (tests/conftest.py)."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked `e2e` (it needs the model): `make check` leaves them to `make test`."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningStack]:
    settings = e2e_settings(tmp_path_factory.mktemp("stack"))
    async with knowledge_base(settings) as kb:
        result = await ensure_model(settings, kb)
    stack = Stack(settings, result.model, with_emulator=True)
    try:
        await stack.start()
        settings = stack.settings  # with the secrets the stack made for the run (tests/e2e/test_hop_auth.py)
        await create_staff(settings)
        async with EmulatorDriver(settings.emulator_url, settings.bot_token) as driver:
            yield RunningStack(settings, stack, driver)
    finally:
        await stack.stop()


def stored_conversation(running: RunningStack, user: int) -> str:
    """Everything the engine stored about one user's conversation (its SQL tracker store), as text."""
    import sqlite3

    with sqlite3.connect(running.settings.data_dir / "engine_tracker.db") as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ?", (str(user),)).fetchall()
    return "\n".join(row[0] for row in rows)
