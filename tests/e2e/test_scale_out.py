"""The scale-out configuration for real: PostgreSQL (ours and the engine's conversations, in a scratch database
on the session's server), Redis (locks, de-duplication, per-chat queues, under a namespace of this module's
own on the session's server), two engine replicas and two gateway replicas in webhook mode, each pair behind
the loopback balancer. Telegram (the emulator) delivers to the gateways' balancer."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from sqlalchemy import func, select

from analytics.tables import UsageConversation, UsageCount
from assistant.launcher import Stack, free_port, loopback_settings
from benchmarks.services import scratch_database
from core.bootstrap import open_database
from knowledge.seeding import knowledge_base
from telegram_emulator.driver import EmulatorDriver, text_of
from tests.conftest import redis_cleanup
from training.trainer import ensure_model

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
SECRET = "scale-out-secret_token"
GREET, FAQ = "hello", "I just arrived in Baku, within how many days must I register my address?"


class ScaledStack:
    def __init__(self, stack: Stack, driver: EmulatorDriver) -> None:
        self.stack, self.driver = stack, driver
        self.settings = stack.settings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scaled(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[ScaledStack]:
    namespace = f"scale{secrets.token_hex(4)}"  # letters and digits: Rasa's lock store keeps only those
    async with scratch_database(postgres_url) as database_url:
        port = free_port()
        settings = loopback_settings(
            tmp_path_factory.mktemp("scaled"),
            database_url=database_url,
            redis_url=redis_url,
            redis_namespace=namespace,
            engine_replicas=2,
            gateway_replicas=2,
            webhook_url=f"http://127.0.0.1:{port}",
            webhook_port=port,
            webhook_secret=SECRET,
            log_level="INFO",
        )
        async with knowledge_base(settings) as kb:
            model = (await ensure_model(settings, kb)).model
        stack = Stack(settings, model, with_emulator=True)
        try:
            await stack.start()
            async with EmulatorDriver(stack.settings.emulator_url, stack.settings.bot_token) as driver:
                yield ScaledStack(stack, driver)
        finally:
            await stack.stop()
            await redis_cleanup(redis_url, namespace)


async def usage(settings) -> tuple[int, int, int]:
    """The Overview's counts in the shared database: (messages, answers from the registration entry,
    conversations)."""
    database = await open_database(settings)
    try:
        async with database.sessions() as session:
            messages = await session.scalar(select(func.coalesce(func.sum(UsageCount.count), 0)))
            answers = await session.scalar(
                select(func.coalesce(func.sum(UsageCount.count), 0)).where(
                    UsageCount.outcome == "answered", UsageCount.entry == "registration_who_when_how"
                )
            )
            talks = await session.scalar(select(func.coalesce(func.sum(UsageConversation.count), 0)))
    finally:
        await database.close()
    return int(messages or 0), int(answers or 0), int(talks or 0)


async def test_replicas_answer_every_message_once_and_in_order(scaled):
    driver = scaled.driver
    users = list(range(700_001, 700_031))
    script = [GREET, FAQ, GREET, FAQ]
    counted_before = await usage(scaled.settings)

    async def talk(user: int) -> None:
        for text in script:  # sent at once, without waiting for answers
            await driver.send_text(user, text, language_code="en")

    await asyncio.gather(*(talk(user) for user in users))
    for user in users:
        replies = await driver.wait_messages(user, len(script), timeout=90)
        await asyncio.sleep(0)
        texts = [text_of(r) for r in replies]
        assert texts[0].startswith("Hello!") and texts[2].startswith("Hello!"), texts
        assert "15 days" in texts[1] and "15 days" in texts[3], texts
    await asyncio.sleep(2)  # anything answered twice would have arrived by now
    for user in users:
        assert len(await driver.messages(user)) == len(script)

    # Both replicas of each kind did part of the work.
    async with ClientSession() as session:
        for name in ("gateway-1", "gateway-2"):
            log = scaled.stack.service(name).log_path.read_text(encoding="utf-8")
            assert "webhook mode" in log
        counts = []
        for name in ("gateway-1", "gateway-2"):
            port = scaled.stack.service(name).env["ASSISTANT_WEBHOOK_PORT"]
            token = scaled.stack.settings.metrics_token.get_secret_value()  # made for the run by the launcher
            async with session.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                metrics = await response.text()
            counts.append(
                sum(
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith("assistant_messages_total{")
                )
            )
    assert all(count > 0 for count in counts) and sum(counts) == len(users) * len(script)

    # Both gateways add their counts to the same rows of the Overview's table: every message once, and each
    # chat one conversation, whichever replica answered it.
    expected = (len(users) * len(script), len(users) * 2, len(users))
    for _ in range(60):
        counted = tuple(
            after - before for after, before in zip(await usage(scaled.settings), counted_before, strict=True)
        )
        if all(n >= e for n, e in zip(counted, expected, strict=True)):  # messages, then conversations: 2 writes
            break
        await asyncio.sleep(0.5)
    assert counted == expected


async def test_a_retried_delivery_through_the_balancer_is_answered_once(scaled):
    user = 700_100
    await scaled.driver.ask(user, GREET, language_code="en", timeout=30)  # the emulator now knows the chat
    update = {
        "update_id": 9_000_000_001,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": GREET,
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "T", "language_code": "en"},
        },
    }
    url = f"http://127.0.0.1:{scaled.settings.webhook_port}/telegram"
    async with ClientSession() as session:
        for _ in range(4):  # to both replicas, twice each (round robin)
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                assert r.status == 200
    await scaled.driver.wait_messages(user, 2, timeout=30)
    await asyncio.sleep(2)
    assert [text_of(m).startswith("Hello!") for m in await scaled.driver.messages(user)] == [True, True]
