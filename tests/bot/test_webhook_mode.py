"""The gateway process in webhook mode: it registers its webhook with a secret token, the emulator delivers
updates to it, and deliveries without the secret are refused."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest
from aiohttp import ClientSession

from core.api_headers import API_HEADERS
from core.settings import PROJECT_ROOT
from telegram_emulator.driver import EmulatorDriver
from telegram_emulator.html_check import parse_html
from tests.conftest import TOKEN, free_port
from tests.support.gateway import fake_engine  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # the gateway as its own process


async def test_webhook_with_secret(emulator, fake_engine, tmp_path):  # noqa: F811
    _, engine_url = fake_engine
    port = free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "ASSISTANT_TELEGRAM_API_URL": emulator,
        "ASSISTANT_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "ASSISTANT_WEBHOOK_PORT": str(port),
        "ASSISTANT_WEBHOOK_SECRET": "a-long-secret_token",
        "ASSISTANT_METRICS_TOKEN": "a-metrics-token",
        "ASSISTANT_ENGINE_URL": engine_url,
        "ASSISTANT_DATA_DIR": str(tmp_path),
    }
    log = open(tmp_path / "gateway.log", "wb")  # noqa: SIM115, ASYNC230 - the child's log, in tmp_path
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
    )
    try:
        async with EmulatorDriver(emulator, TOKEN) as driver:
            for _ in range(150):
                info = await driver.info()
                if info["webhook"] and info["calls"].get("setmycommands", 0) >= 4:
                    break
                await asyncio.sleep(0.1)
            assert info["webhook"]["url"] == f"http://127.0.0.1:{port}/telegram"
            (reply,) = await driver.ask(21, "hello through the webhook", timeout=15)
            assert parse_html(reply["html"]).text == "echo: hello through the webhook"

        async with ClientSession() as session:
            forged: dict[str, Any] = {
                "update_id": 999,
                "message": {"message_id": 1, "date": 0, "chat": {"id": 21, "type": "private"}, "text": "forged"},
            }
            async with session.post(
                f"http://127.0.0.1:{port}/telegram", json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ) as response:
                assert response.status == 403
                # Refusals too carry the API headers (core/api_headers.py).
                assert {name: response.headers.get(name) for name in API_HEADERS} == API_HEADERS
            async with session.post(f"http://127.0.0.1:{port}/telegram", json=forged) as response:
                assert response.status == 403
            # Telegram retrying a delivery it thinks failed: answered once.
            retried = {**forged, "update_id": 5_000_001, "message": {**forged["message"], "text": "only once"}}
            for _ in range(3):
                async with session.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json=retried,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "a-long-secret_token"},
                ) as response:
                    assert response.status == 200
            async with session.post(
                f"http://127.0.0.1:{port}/telegram",
                data=b"\x00garbage",
                headers={"X-Telegram-Bot-Api-Secret-Token": "a-long-secret_token"},
            ) as response:
                assert response.status == 400
            async with session.get(f"http://127.0.0.1:{port}/health") as response:
                assert response.status == 200
            # Metrics only for Prometheus' bearer token (ASSISTANT_METRICS_TOKEN); refusals are counted.
            for headers in ({}, {"Authorization": "Bearer guessed"}):
                async with session.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as response:
                    assert response.status == 401
            async with session.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer a-metrics-token"}
            ) as response:
                metrics = await response.text()
            assert "assistant_duplicate_updates_total 2.0" in metrics
            assert 'assistant_refused_requests_total{endpoint="/metrics",reason="missing"} 1.0' in metrics
            assert 'assistant_refused_requests_total{endpoint="/metrics",reason="invalid"} 1.0' in metrics
            assert 'assistant_refused_requests_total{endpoint="/telegram",reason="invalid"} 1.0' in metrics
            assert 'assistant_refused_requests_total{endpoint="/telegram",reason="missing"} 1.0' in metrics
        async with EmulatorDriver(emulator, TOKEN) as driver:
            await asyncio.sleep(1.0)
            assert [
                parse_html(m["html"]).text
                for m in await driver.messages(21)
                if "only once" in parse_html(m["html"]).text
            ] == ["echo: only once"]
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
        log.close()
    assert process.returncode is not None
