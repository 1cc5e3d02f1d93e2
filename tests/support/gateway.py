"""The gateway (the real python-telegram-bot Application, in process) and a fake engine, for tests.

The fake engine is a small aiohttp server speaking the engine's channel protocol, so failures (down, slow,
garbage, silence) and any engine reply can be produced on demand; the real engine is exercised in tests/e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.app import _post_init, _post_shutdown, build_application
from core.settings import Settings
from telegram_emulator.driver import EmulatorDriver
from tests.conftest import TOKEN, free_port


class FakeEngine:
    def __init__(self) -> None:
        self.mode = "echo"  # echo | slow | garbage | silent | error
        self.delays: dict[str, float] = {}
        self.scripted: dict[str, list[dict[str, Any]]] = {}  # message -> the engine's replies
        self.received: list[dict] = []
        self.actions_up = True  # the engine's action server, as the gateway's health check sees it

    async def actions_health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200 if self.actions_up else 503)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        await asyncio.sleep(self.delays.get(body["message"], 0))
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "garbage":
            return web.Response(text="<html>oops</html>")
        if self.mode == "error":
            return web.Response(status=500)
        if self.mode == "silent":
            return web.json_response([])
        if body["message"] in self.scripted:
            return web.json_response([{"recipient_id": body["sender"], **r} for r in self.scripted[body["message"]]])
        return web.json_response([{"recipient_id": body["sender"], "text": f"echo: {body['message']}"}])


@contextlib.asynccontextmanager
async def serve_fake_engine() -> AsyncIterator[tuple[FakeEngine, str]]:
    engine = FakeEngine()
    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", engine.handle)
    app.router.add_get("/health", engine.actions_health)  # stands in for the action server's health check
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield engine, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Application]:
    """The gateway polling the emulator, as `python -m bot` runs it; stopped cleanly on exit."""
    application = build_application(settings)
    updater = application.updater
    assert updater is not None  # built with one: polling is its default
    await application.initialize()
    await _post_init(application)
    await updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await application.start()
    try:
        yield application
    finally:
        await updater.stop()
        await application.stop()
        await _post_shutdown(application)
        await application.shutdown()


@pytest.fixture
async def fake_engine() -> AsyncIterator[tuple[FakeEngine, str]]:
    async with serve_fake_engine() as served:
        yield served


def gateway_settings(emulator: str, engine_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """A gateway on the emulator and the fake engine (which also answers its action-server health checks)."""
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_url=emulator,
        data_dir=data_dir,
        engine_url=engine_url,
        action_server_port=int(engine_url.rsplit(":", 1)[1]),
        **overrides,
    )


@pytest.fixture
async def gateway(emulator, fake_engine, tmp_path):
    engine, engine_url = fake_engine
    settings = gateway_settings(
        emulator, engine_url, tmp_path, engine_timeout_s=1.0, engine_retries=1, max_message_chars=200
    )
    async with running_gateway(settings), EmulatorDriver(emulator, TOKEN) as driver:
        yield engine, driver


def answer_reply(entry: str = "registration_who_when_how", **overrides) -> list[dict]:
    """What the engine sends for a knowledge-base answer (rendered with 👍/👎 buttons for `entry`)."""
    custom = {
        "type": "answer",
        "entry": entry,
        "question": "Who must register, and when?",
        "text": "Within 15 days & free of charge.",
        "source": "Migration Code, Article 20",
        "source_url": "https://migration.gov.az/en?a=1&b=2",
        "reviewed_on": "2026-11-24",
        **overrides,
    }
    return [{"custom": custom}]
