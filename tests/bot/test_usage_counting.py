"""The gateway counts what became of each message (analytics/counting.py): by language, outcome, entry and
channel, in the database within seconds, and never at the cost of a reply."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from analytics.tables import UsageConversation, UsageCount
from core import protocol
from telegram_emulator.driver import EmulatorDriver
from tests.conftest import TOKEN
from tests.support.gateway import answer_reply, gateway_settings, running_gateway
from tests.support.gateway import fake_engine as fake_engine  # the fixture: a fake engine

ANSWER = "registration_who_when_how"


async def counted(sessions) -> dict[tuple[str, str, str, str], int]:
    async with sessions() as session:
        rows = (await session.execute(select(UsageCount))).scalars().all()
    return {(r.language, r.channel, r.outcome, r.entry): r.count for r in rows}


async def test_each_message_is_counted_with_its_outcome_language_and_channel(emulator, fake_engine, tmp_path):
    engine, engine_url = fake_engine
    engine.scripted = {
        "who registers?": answer_reply(related=[{"entry": "visa_evisa_asan", "question": "Visa?"}]),
        "кто регистрируется?": answer_reply(),
        "blorp": [{"custom": {"type": "did_you_mean", "options": [{"entry": ANSWER, "question": "Register?"}]}}],
        protocol.SayToEngine.pick("visa_evisa_asan").payload: answer_reply("visa_evisa_asan"),
        "поговорим о футболе": [{"custom": {"type": "say", "key": "out_of_scope"}}],
    }
    settings = gateway_settings(
        emulator, engine_url, tmp_path, engine_timeout_s=1.0, engine_retries=0, usage_flush_s=0.2
    )
    async with running_gateway(settings) as application, EmulatorDriver(emulator, TOKEN) as driver:
        services = application.bot_data.services
        (answer,) = await driver.ask(70, "who registers?", language_code="en")
        await driver.ask(70, "blorp", language_code="en")
        await driver.ask(71, "кто регистрируется?", language_code="ru")
        await driver.ask(71, "поговорим о футболе", language_code="ru")
        await driver.ask(72, "/start", language_code="en")
        related = next(b for row in answer["reply_markup"]["inline_keyboard"] for b in row if "Visa" in b["text"])
        pressed = await driver.press(70, 70, answer["message_id"], data=related["callback_data"])
        await driver.wait_messages(70, 1, after_id=pressed["message"]["message_id"] if "message" in pressed else None)
        engine.mode = "error"
        await driver.ask(72, "anything", language_code="en")

        deadline = asyncio.get_running_loop().time() + 10
        expected = {
            ("en", "text", "answered", ANSWER): 1,
            ("en", "text", "did_you_mean", ""): 1,
            ("ru", "text", "answered", ANSWER): 1,
            ("ru", "text", "out_of_scope", ""): 1,
            ("en", "text", "other", ""): 1,
            ("en", "button", "answered", "visa_evisa_asan"): 1,
            ("en", "text", "engine_down", ""): 1,
        }
        while await counted(services.database.sessions) != expected:
            found = await counted(services.database.sessions)
            assert asyncio.get_running_loop().time() < deadline, sorted(found.items())
            await asyncio.sleep(0.1)
        async with services.database.sessions() as session:
            conversations = (await session.execute(select(UsageConversation))).scalars().all()
        assert {(c.language, c.count) for c in conversations} == {("en", 2), ("ru", 1)}


async def test_with_the_counts_unwritable_every_message_is_still_answered(emulator, fake_engine, tmp_path):
    _, engine_url = fake_engine
    settings = gateway_settings(emulator, engine_url, tmp_path, usage_flush_s=0.05)
    async with running_gateway(settings) as application, EmulatorDriver(emulator, TOKEN) as driver:
        usage = application.bot_data.services.usage

        def refuse():
            raise OSError("database away")

        usage._sessions = refuse
        for n in range(5):
            (reply,) = await driver.ask(80, f"message {n}", language_code="en", timeout=5)
            assert f"echo: message {n}" in reply["text"]
        await asyncio.sleep(0.2)
        assert usage.pending == 5  # kept for when the database is back
