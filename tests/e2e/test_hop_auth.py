"""The hops of the running stack, probed as any other process on the machine (or pod in the cluster) could:
the real engine with the trained model, the action server and the case API sandbox, as the launcher starts
them with the secrets it made for the run. Before: each of these answered anyone (issue 24)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from aiohttp import ClientSession

from core.hop_auth import sign
from telegram_emulator.driver import text_of

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(910_001)


def _secret(running: Any, name: str) -> str:
    return getattr(running.settings, name).get_secret_value()


def _signed(body: dict, secret: str, **options: float) -> dict:
    data = json.dumps(body).encode()
    return {"data": data, "headers": {"Content-Type": "application/json", **sign(secret, data, **options)}}


async def test_the_engine_answers_only_the_gateways_signed_messages(running):
    url = f"{running.settings.engine_url}/webhooks/gateway/webhook"
    secret = _secret(running, "engine_hop_secret")
    # An invented sender in the middle of the status form, as the attack went: no form, no status, no text.
    message = {"sender": "919191", "message": "hello", "metadata": {"language": "en"}}
    async with ClientSession() as session:
        for options in (
            {"json": message},
            _signed(message, "guessed"),
            _signed(message, secret, now=time.time() - 3600),
            _signed(message, _secret(running, "actions_hop_secret")),  # the other hop's secret
        ):
            async with session.post(url, **options) as response:
                assert response.status == 401
                assert await response.json() == {"error": "unauthenticated"}
        signed = _signed(message, secret)
        async with session.post(url, **signed) as response:
            assert response.status == 200
            replies = await response.json()
        async with session.post(url, **signed) as response:  # the same request captured and sent again
            assert response.status == 401
    assert replies == [{"recipient_id": "919191", "custom": {"type": "say", "key": "greet"}}]  # the gateway's texts
    log = running.stack.service("engine").log_path.read_text(encoding="utf-8")
    assert "gateway -> engine: unauthenticated request refused (missing)" in log
    assert "refused since start" in log


async def test_the_action_server_runs_actions_only_for_the_engine(running):
    base = f"http://127.0.0.1:{running.settings.action_server_port}"
    call = {
        "next_action": "action_check_status",
        "sender_id": "919192",
        "version": "3.6.21",
        "domain": {},
        "tracker": {"sender_id": "919192", "slots": {}, "events": [], "latest_message": {}, "active_loop": {}},
    }
    async with ClientSession() as session:
        for options in ({"json": call}, _signed(call, _secret(running, "engine_hop_secret"))):
            async with session.post(f"{base}/webhook", **options) as response:
                assert response.status == 401
        async with session.get(f"{base}/metrics") as response:
            assert response.status == 401
        token = _secret(running, "metrics_token")
        async with session.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200
            metrics = await response.text()
        async with session.get(f"{base}/health") as response:
            assert response.status == 200
    assert 'assistant_refused_requests_total{endpoint="/webhook",reason="missing"}' in metrics
    assert 'assistant_refused_requests_total{endpoint="/metrics",reason="missing"}' in metrics


async def test_the_sandbox_switches_want_the_admin_token(running):
    url = f"{running.settings.case_api_url}/_sandbox/behaviour"
    async with ClientSession() as session:
        async with session.post(url, json={"fail_status": 503, "fail_count": -1}) as response:
            assert response.status == 401
        admin = {"Authorization": f"Bearer {_secret(running, 'sandbox_admin_token')}"}
        async with session.post(url, json={}, headers=admin) as response:
            assert response.status == 200
            assert (await response.json())["fail_count"] == 0  # the forged switch did nothing


async def test_people_still_get_answers_through_every_signed_hop(running):
    """The gateway signs for the engine and the engine for the action server: answers from the knowledge base
    and the status form (actions both) come through. The case API's state is other tests' (a circuit they
    opened may still be open), so the form is not taken to a lookup here."""
    user, driver = next(_users), running.driver
    question = "I just arrived in Baku, within how many days must I register my address?"
    (answer,) = await driver.ask(user, question, language_code="en")
    assert "15 days" in text_of(answer)
    (ask,) = await driver.ask(user, "check my application status", language_code="en")
    assert "TRP-2026-000123" in text_of(ask)  # the form's first question: the form's actions ran
    (number,) = await driver.ask(user, "TRP-2026-000102")
    assert "date of birth" in text_of(number)  # the form's validation action accepted the number
    await driver.ask(user, "cancel")
