"""Staff's side of handing chats to people, for the tests that need it: the staff forum groups and their members,
a gateway's settings with them, and the fixture `desk`: the real gateway with staff groups against the emulator
and a fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.settings import Settings
from telegram_emulator.driver import EmulatorDriver
from tests.conftest import TOKEN
from tests.support.gateway import running_gateway, serve_fake_engine

SUPPORT, OFFICERS = -1001000000001, -1001000000002
SUPPORT_AGENT, OFFICER, STRANGER = 501, 601, 777
HANDOFF = [{"custom": {"type": "handoff", "reason": "asked"}}]


async def only_topic(driver: EmulatorDriver, chat_id: int) -> int:
    for _ in range(200):
        topics = await driver.topics(chat_id)
        if topics:
            (topic,) = topics
            return int(topic)
        await asyncio.sleep(0.05)
    raise AssertionError("no topic was created")


def staff_settings(emulator: str, engine_url: str, data_dir, **extra) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_url=emulator,
        data_dir=data_dir,
        engine_url=engine_url,
        engine_timeout_s=2.0,
        staff_support_chat_id=SUPPORT,
        staff_officers_chat_id=OFFICERS,
        support_hours="Mon-Sun 00:00-24:00",
        **extra,
    )


@pytest.fixture
async def desk(emulator, tmp_path) -> AsyncIterator[tuple]:
    async with serve_fake_engine() as (engine, engine_url), EmulatorDriver(emulator, TOKEN) as driver:
        await driver.create_chat(SUPPORT, "Support", is_forum=True, members=[SUPPORT_AGENT])
        await driver.create_chat(OFFICERS, "Officers", is_forum=True, members=[OFFICER])
        engine.scripted["/human_handoff"] = HANDOFF
        settings = staff_settings(emulator, engine_url, tmp_path)
        async with running_gateway(settings) as application:
            yield engine, driver, settings, application
