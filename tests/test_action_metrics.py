"""The action server's GET /metrics: the real `python -m actions` process, called as the engine calls it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from assistant.settings import PROJECT_ROOT
from tests.conftest import free_port

pytestmark = pytest.mark.slow  # the action server as its own process


def _call(action: str) -> dict:
    return {
        "next_action": action,
        "sender_id": "7001",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "7001",
            "slots": {"language": "en"},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
            "latest_message": {"text": "english please", "intent": {"name": "choose_language"}, "entities": []},
        },
    }


@pytest.fixture
async def action_server(tmp_path):
    port = free_port()
    env = {**os.environ, "ASSISTANT_ACTION_SERVER_PORT": str(port), "ASSISTANT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not wait for it
        [sys.executable, "-m", "actions"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the action server did not start")
            yield http, base
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # Sanic's workers too, as the launcher stops it
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def test_action_runs_are_counted_and_timed_by_domain_action_only(action_server):
    http, base = action_server
    async with http.post(f"{base}/webhook", json=_call("action_choose_language")) as response:
        assert response.status == 200
    async with http.post(f"{base}/webhook", json=_call("action_made_up_by_a_caller")) as response:
        assert response.status == 404
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert 'assistant_action_runs_total{action="action_choose_language",outcome="ok"} 1.0' in text
    assert 'assistant_action_runs_total{action="other",outcome="not_found"} 1.0' in text
    assert 'assistant_action_seconds_count{action="action_choose_language"} 1.0' in text
    assert "action_made_up_by_a_caller" not in text
