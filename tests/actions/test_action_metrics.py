"""The action server's GET /metrics and who may call it: the real `python -m actions` process, called as the
engine calls it (signed, core/hop_auth.py), as Prometheus calls it (bearer token), and as anyone else."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from core.hop_auth import sign
from core.settings import PROJECT_ROOT
from tests.conftest import free_port

SECRET = "the-engines-hop-secret"
METRICS_TOKEN = "prometheus-bearer-token"

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
    env = {
        **os.environ,
        "ASSISTANT_ACTION_SERVER_PORT": str(port),
        "ASSISTANT_DATA_DIR": str(tmp_path),
        "ASSISTANT_ACTIONS_HOP_SECRET": SECRET,
        "ASSISTANT_METRICS_TOKEN": METRICS_TOKEN,
    }
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


def signed(call: dict, secret: str = SECRET, **sign_options: float) -> dict:
    """The request as the engine sends it (engine/serve.py signs the exact bytes)."""
    body = json.dumps(call).encode()
    headers = {"Content-Type": "application/json", **sign(secret, body, **sign_options)}
    return {"data": body, "headers": headers}


async def metrics(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as response:
        assert response.status == 200
        return await response.text()


async def test_action_runs_are_counted_and_timed_by_domain_action_only(action_server):
    http, base = action_server
    async with http.post(f"{base}/webhook", **signed(_call("action_choose_language"))) as response:
        assert response.status == 200
    async with http.post(f"{base}/webhook", **signed(_call("action_made_up_by_a_caller"))) as response:
        assert response.status == 404
    text = await metrics(http, base)
    assert 'assistant_action_runs_total{action="action_choose_language",outcome="ok"} 1.0' in text
    assert 'assistant_action_runs_total{action="other",outcome="not_found"} 1.0' in text
    assert 'assistant_action_seconds_count{action="action_choose_language"} 1.0' in text
    assert "action_made_up_by_a_caller" not in text


async def test_only_the_engine_may_run_actions_and_only_prometheus_may_read_metrics(action_server):
    """Before: a made-up sender ran the status form's validation and the status action from anywhere."""
    http, base = action_server
    call = _call("action_choose_language")
    forged = {
        "missing": {"json": call},
        "invalid": signed(call, secret="guessed"),
        "stale": signed(call, now=time.time() - 3600),
    }
    for options in forged.values():
        async with http.post(f"{base}/webhook", **options) as response:
            assert response.status == 401
    tampered = signed(call)
    tampered["data"] = tampered["data"].replace(b"7001", b"7002")  # another sender, the engine's signature
    async with http.post(f"{base}/webhook", **tampered) as response:
        assert response.status == 401
    async with http.get(f"{base}/actions") as response:
        assert response.status == 401
    for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": METRICS_TOKEN}):
        async with http.get(f"{base}/metrics", headers=headers) as response:
            assert response.status == 401
    async with http.get(f"{base}/health") as response:
        assert response.status == 200  # says nothing
    async with http.post(f"{base}/webhook", **signed(call)) as response:
        assert response.status == 200

    text = await metrics(http, base)
    refused = {
        line.split("{", 1)[1].split("}", 1)[0]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("assistant_refused_requests_total{")
    }
    assert refused == {
        'endpoint="/webhook",reason="missing"': 1.0,
        'endpoint="/webhook",reason="invalid"': 2.0,
        'endpoint="/webhook",reason="stale"': 1.0,
        'endpoint="/actions",reason="missing"': 1.0,
        'endpoint="/metrics",reason="missing"': 1.0,
        'endpoint="/metrics",reason="invalid"': 2.0,
    }
    assert 'assistant_action_runs_total{action="action_choose_language",outcome="ok"} 1.0' in text  # signed only


def test_one_process_may_load_both_the_action_servers_and_the_gateways_metrics():
    """Before, both defined assistant_refused_requests_total: "Duplicated timeseries" on import."""
    script = "import actions.authentication as a, core.metrics as m; print(a.REFUSED is m.REFUSED)"
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "True"
