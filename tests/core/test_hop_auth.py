"""Authenticated hops (core/hop_auth.py): the signature itself, the gateway's signed messages, and the
launcher making and handing over the secrets; settings whose URLs follow their ports.

The receiving ends in their own processes: tests/engine/test_engine_serve.py (the engine's channel and its signed
action calls, in Rasa's environment), tests/actions/test_action_metrics.py (the action server),
tests/case_api/test_case_api.py (the sandbox's switches), tests/e2e/test_hop_auth.py (the whole stack)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from assistant.launcher import (
    ENGINE_TOKEN_VARIABLE,
    MODEL_STORE_TOKEN_VARIABLE,
    Stack,
    loopback_settings,
    settings_env,
)
from bot.engine_client import EngineClient, EngineUnavailable
from core.hop_auth import (
    ACTIONS_SECRET_VARIABLE,
    ENGINE_SECRET_VARIABLE,
    INVALID,
    MISSING,
    REPLAYED,
    STALE,
    TIMESTAMP_HEADER,
    UNCONFIGURED,
    HopGuard,
    Refusals,
    check_bearer,
    sign,
    verify,
)
from core.settings import Settings
from tests.conftest import free_port

SECRET = "a-hop-secret-of-some-length"
BODY = b'{"sender": "7001", "message": "02.11.1985"}'
NOW = 1_800_000_000.0


def test_a_signed_body_verifies_within_the_window_and_nothing_else_does():
    headers = sign(SECRET, BODY, now=NOW)
    assert verify(SECRET, headers, BODY, now=NOW) is None
    assert verify(SECRET, headers, BODY, now=NOW + 299) is None  # clocks a little apart
    assert verify(SECRET, headers, BODY, now=NOW - 299) is None
    assert verify(SECRET, headers, BODY, now=NOW + 301) == STALE  # a captured request, replayed later
    assert verify(SECRET, headers, BODY, now=NOW - 301) == STALE
    assert verify(SECRET, headers, BODY.replace(b"7001", b"7002"), now=NOW) == INVALID  # another sender
    assert verify("another-secret", headers, BODY, now=NOW) == INVALID
    assert verify(SECRET, {}, BODY, now=NOW) == MISSING
    assert verify(SECRET, {TIMESTAMP_HEADER: str(int(NOW))}, BODY, now=NOW) == MISSING
    moved = {**headers, TIMESTAMP_HEADER: str(int(NOW) + 1)}  # the signature binds its timestamp
    assert verify(SECRET, moved, BODY, now=NOW) == INVALID
    assert verify(SECRET, {**headers, TIMESTAMP_HEADER: "-1e9"}, BODY, now=NOW) == INVALID
    assert verify(None, headers, BODY, now=NOW) == UNCONFIGURED  # no secret: nothing is authentic
    assert verify("", headers, BODY, now=NOW) == UNCONFIGURED


def test_a_guard_counts_its_refusals_by_reason(caplog):
    seen: list[str] = []
    guard = HopGuard("gateway -> engine", SECRET, clock=lambda: NOW, on_refusal=seen.append)
    assert guard.refusal(sign(SECRET, BODY, now=NOW), BODY) is None
    assert guard.refusal({}, BODY) == MISSING
    assert guard.refusal(sign(SECRET, BODY, now=NOW - 3600), BODY) == STALE
    assert guard.refusal(sign("forged", BODY, now=NOW), BODY) == INVALID
    assert dict(guard.refusals.counts) == {MISSING: 1, STALE: 1, INVALID: 1}
    assert seen == [MISSING, STALE, INVALID]
    assert "refused (missing); 1 refused since start" in caplog.text
    assert "02.11.1985" not in caplog.text  # a refused body is never logged


def test_an_accepted_request_is_refused_the_second_time():
    """Before, a captured request could be replayed as often as liked for five minutes."""
    clock = [NOW]
    guard = HopGuard("gateway -> engine", SECRET, clock=lambda: clock[0], remembered=3)
    headers = sign(SECRET, BODY, now=NOW)
    assert guard.refusal(headers, BODY) is None
    assert guard.refusal(headers, BODY) == REPLAYED
    again = sign(SECRET, BODY, now=NOW)  # the same message sent again by the gateway is a new request
    assert again != headers and guard.refusal(again, BODY) is None
    clock[0] = NOW + 301
    assert guard.refusal(headers, BODY) == STALE  # forgotten only once it is stale anyway
    for _ in range(5):  # bounded: the oldest are forgotten first
        assert guard.refusal(sign(SECRET, BODY, now=clock[0]), BODY) is None
    assert len(guard._seen) <= 3
    assert dict(guard.refusals.counts) == {REPLAYED: 1, STALE: 1}


def test_refusals_log_the_first_then_one_summary_a_minute(caplog):
    """Before, every refused request wrote a warning: anyone reaching a port could flood the log."""
    clock = [0.0]
    refusals = Refusals("gateway -> engine", clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="core.hop_auth"):
        for second in range(120):
            clock[0] = float(second)
            refusals.count(MISSING if second % 3 else INVALID)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # the first, and one summary after a minute
    assert lines[0] == "gateway -> engine: unauthenticated request refused (invalid); 1 refused since start"
    assert lines[1] == (
        "gateway -> engine: 60 unauthenticated requests refused in the last 60 s (invalid: 20, missing: 40); "
        "61 refused since start"
    )
    assert sum(refusals.counts.values()) == 120  # the counters stay exact


def test_bearer_tokens_are_compared_whole():
    assert check_bearer("t0ken", "Bearer t0ken") is None
    assert check_bearer("t0ken", "Bearer t0ke") == INVALID
    assert check_bearer("t0ken", "t0ken") == INVALID
    assert check_bearer("t0ken", None) == MISSING
    assert check_bearer(None, "Bearer ") == UNCONFIGURED  # no token set: nobody gets in


@pytest.fixture
async def checking_engine() -> AsyncIterator[tuple[str, HopGuard]]:
    """An engine's channel as far as authentication goes: 401 unless signed with SECRET."""
    guard = HopGuard("gateway -> engine", SECRET)

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if guard.refusal(request.headers, body) is not None:
            return web.json_response({"error": "unauthenticated"}, status=401)
        message = json.loads(body)
        return web.json_response([{"recipient_id": message["sender"], "text": f"ok: {message['message']}"}])

    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", guard
    finally:
        await runner.cleanup()


async def test_the_gateway_signs_every_message_it_sends_the_engine(checking_engine):
    url, guard = checking_engine
    client = EngineClient(url, timeout_s=5, retries=0, hop_secret=SECRET)
    await client.start()
    try:
        replies = await client.send("7001", "hello, Привет", {"language": "ru"})
    finally:
        await client.close()
    assert replies == [{"recipient_id": "7001", "text": "ok: hello, Привет"}]
    assert not guard.refusals.counts


async def test_an_engine_refusal_is_an_engine_failure_for_the_gateway(checking_engine):
    url, guard = checking_engine
    for secret in (None, "not-the-engines-secret"):
        client = EngineClient(url, timeout_s=5, retries=0, hop_secret=secret)
        await client.start()
        try:
            with pytest.raises(EngineUnavailable, match="credentials"):
                await client.send("7001", "hello", {})
        finally:
            await client.close()
    assert dict(guard.refusals.counts) == {MISSING: 1, INVALID: 1}


# --- the launcher: secrets per run, handed over in the environment, required where they cannot be made


def _engine(stack: Stack):
    return next(s for s in stack.plan() if s.name == "engine")


def test_the_launcher_makes_each_secret_for_the_run_and_hands_them_over_off_the_command_line(tmp_path):
    stack = Stack(loopback_settings(tmp_path), tmp_path / "m.tar.gz", with_emulator=True)
    s = stack.settings
    made = {
        name: getattr(s, name).get_secret_value()
        for name in (
            "engine_api_token",
            "engine_hop_secret",
            "actions_hop_secret",
            "metrics_token",
            "sandbox_admin_token",
        )
    }
    assert all(len(value) >= 40 for value in made.values()) and len(set(made.values())) == len(made)
    services = {service.name: service for service in stack.plan()}
    engine = services["engine"]
    assert not any(value in arg for value in made.values() for arg in engine.argv)  # `ps` shows argv to all
    assert engine.env[ENGINE_SECRET_VARIABLE] == made["engine_hop_secret"]
    assert engine.env[ACTIONS_SECRET_VARIABLE] == made["actions_hop_secret"]
    assert engine.env[ENGINE_TOKEN_VARIABLE] == made["engine_api_token"]
    assert services["gateway"].env["ASSISTANT_ENGINE_HOP_SECRET"] == made["engine_hop_secret"]
    assert services["actions"].env["ASSISTANT_ACTIONS_HOP_SECRET"] == made["actions_hop_secret"]
    assert services["actions"].env["ASSISTANT_METRICS_TOKEN"] == made["metrics_token"]
    assert services["case-api"].env["ASSISTANT_SANDBOX_ADMIN_TOKEN"] == made["sandbox_admin_token"]
    endpoints = (tmp_path / "engine" / "endpoints.yml").read_text()
    assert not any(value in endpoints for value in made.values())  # no secret in a file
    # The engine fetches its model from the console's store with the API token, named in endpoints.yml.
    assert engine.env[MODEL_STORE_TOKEN_VARIABLE] == made["engine_api_token"]
    assert f"Bearer ${{{MODEL_STORE_TOKEN_VARIABLE}}}" in endpoints
    # HAProxy's health check asks /status with it: its configuration is private.
    assert (tmp_path / "engine" / "haproxy.cfg").stat().st_mode & 0o077 == 0
    # What an operator set is kept: replicas and the console must agree on it.
    given = Stack(
        loopback_settings(tmp_path, engine_hop_secret=SecretStr(SECRET)), tmp_path / "m.tar.gz", with_emulator=True
    )
    assert _engine(given).env[ENGINE_SECRET_VARIABLE] == SECRET


def test_a_webhook_secret_is_made_for_a_run_in_webhook_mode(tmp_path):
    port = free_port()
    settings = loopback_settings(tmp_path, webhook_url=f"http://127.0.0.1:{port}", webhook_port=port)
    secret = Stack(settings, tmp_path / "m.tar.gz", with_emulator=True).settings.webhook_secret
    assert secret is not None and len(secret.get_secret_value()) >= 40


def test_services_started_one_by_one_refuse_to_make_up_their_own_secrets(tmp_path):
    """`python -m assistant serve` (containers): a secret made per container would differ between them."""
    stack = Stack(loopback_settings(tmp_path), tmp_path / "m.tar.gz", with_emulator=False, per_run_secrets=False)
    assert stack.missing_secrets("engine") == [
        "ASSISTANT_ENGINE_API_TOKEN",
        "ASSISTANT_ENGINE_HOP_SECRET",
        "ASSISTANT_ACTIONS_HOP_SECRET",
    ]
    # Each service needs only its own (deploy/k8s gives each only those).
    assert stack.missing_secrets("actions") == ["ASSISTANT_ACTIONS_HOP_SECRET"]
    assert stack.missing_secrets("console") == ["ASSISTANT_ENGINE_API_TOKEN"]
    assert stack.missing_secrets("case-api") == []
    given = {name: SecretStr(f"{name}-value") for name in ("engine_api_token", "engine_hop_secret")}
    webhook = loopback_settings(tmp_path, webhook_url="https://example.org", **given)
    stack = Stack(webhook, tmp_path / "m.tar.gz", with_emulator=False, per_run_secrets=False)
    assert stack.missing_secrets("gateway") == ["ASSISTANT_WEBHOOK_SECRET"]
    assert stack.missing_secrets("engine") == ["ASSISTANT_ACTIONS_HOP_SECRET"]
    assert stack.settings.metrics_token is None  # optional: without it /metrics refuses everyone


async def test_a_service_started_alone_says_which_secrets_it_lacks(tmp_path, capsys):
    from assistant.__main__ import cmd_serve

    assert await cmd_serve(loopback_settings(tmp_path), "actions") == 2  # and does not start
    assert "ASSISTANT_ACTIONS_HOP_SECRET must be set" in capsys.readouterr().out


def test_an_empty_secret_in_an_env_file_is_no_secret(monkeypatch):
    # `ASSISTANT_ENGINE_API_TOKEN=` as deploy/assistant.env.example ships: the engine's API once ran open.
    monkeypatch.setenv("ASSISTANT_ENGINE_API_TOKEN", "")
    monkeypatch.setenv("ASSISTANT_ENGINE_HOP_SECRET", "")
    settings = Settings(_env_file=None)
    assert settings.engine_api_token is None and settings.engine_hop_secret is None


# --- settings: a port changed alone rewires everything that talks to it


def _only_the_port(monkeypatch, tmp_path: Path, service: str, port: int) -> tuple[Settings, dict]:
    """Settings from the environment with one service's port set and its URL not; the launcher's plan."""
    monkeypatch.setenv(f"ASSISTANT_{service}_PORT", str(port))
    monkeypatch.delenv(f"ASSISTANT_{service}_URL", raising=False)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)
    return settings, {s.name: s for s in Stack(settings, tmp_path / "m.tar.gz", with_emulator=False).plan()}


def test_an_engine_port_alone_moves_the_engine_url_for_every_caller(monkeypatch, tmp_path):
    settings, services = _only_the_port(monkeypatch, tmp_path, "ENGINE", 5999)
    assert settings.engine_url == "http://127.0.0.1:5999"
    # HAProxy takes the engine's port, the engine listens behind it
    assert services["balancer"].port == 5999 and services["engine"].port != 5999
    assert "bind 127.0.0.1:5999" in (tmp_path / "engine" / "haproxy.cfg").read_text()
    assert services["gateway"].env["ASSISTANT_ENGINE_URL"] == "http://127.0.0.1:5999"


def test_a_case_api_port_alone_moves_the_sandbox_and_its_url(monkeypatch, tmp_path):
    settings, services = _only_the_port(monkeypatch, tmp_path, "CASE_API", 8099)
    assert settings.case_api_url == "http://127.0.0.1:8099"
    assert "case-api" in services  # before: the sandbox was not started at all, and the actions called 8090
    assert services["actions"].env["ASSISTANT_CASE_API_URL"] == "http://127.0.0.1:8099"
    # A real case API elsewhere is not replaced by the sandbox.
    real = Settings(_env_file=None, case_api_url="https://cases.example.org")
    assert "case-api" not in {s.name for s in Stack(real, tmp_path / "m.tar.gz", with_emulator=False).plan()}


def test_the_other_services_follow_their_ports(tmp_path):
    settings = Settings(_env_file=None, action_server_port=5999, emulator_port=8999, data_dir=tmp_path)
    assert settings.action_server_url == "http://127.0.0.1:5999/webhook"
    assert settings.action_server_health_url == "http://127.0.0.1:5999/health"
    assert settings.bot_api_url == "http://127.0.0.1:8999"  # the demo's Telegram
    stack = Stack(settings, tmp_path / "m.tar.gz", with_emulator=True)
    services = {s.name: s for s in stack.plan()}
    assert services["emulator"].argv[-1] == "8999"
    endpoints = (tmp_path / "engine" / "endpoints.yml").read_text()
    assert "http://127.0.0.1:5999/webhook" in endpoints


async def test_the_launcher_refuses_an_engine_url_that_misses_the_engine_it_starts(tmp_path):
    """Before, the gateway kept calling 5005 after the port moved, and the launcher said "running"."""
    settings = loopback_settings(tmp_path, engine_url="http://127.0.0.1:5005")
    stack = Stack(settings, tmp_path / "m.tar.gz", with_emulator=False)
    with pytest.raises(RuntimeError, match="ASSISTANT_ENGINE_URL"):
        await stack.start()
    assert not stack.services  # nothing was started


def test_the_environment_the_launcher_hands_down_rebuilds_the_same_settings(monkeypatch, tmp_path: Path):
    settings = Stack(loopback_settings(tmp_path), tmp_path / "m.tar.gz", with_emulator=True).settings
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    assert Settings(_env_file=None) == settings


async def test_the_gateway_serves_no_webhook_without_its_secret(tmp_path):
    """Telegram -> gateway is a hop too: without the secret, anyone who found the URL could post updates."""
    from bot.webhook import serve

    settings = Settings(_env_file=None, data_dir=tmp_path, webhook_url="https://assistant.example.org")
    with pytest.raises(ValueError, match="ASSISTANT_WEBHOOK_SECRET"):
        await serve(None, settings, None, None, None)  # type: ignore[arg-type]  # refused before any is used


def test_the_engine_holds_only_its_own_secrets_and_no_file_holds_a_password(monkeypatch, tmp_path):
    """Before, the engine inherited the launcher's whole environment (the bot token, the data keys, the case
    API's token) and endpoints.yml held the database's and Redis' passwords."""
    others = {
        "TELEGRAM_BOT_TOKEN": "123:bot-token-value",
        "ASSISTANT_DATA_KEY": "data-key-value",
        "ASSISTANT_SECRET_KEY": "secret-key-value",
        "ASSISTANT_CASE_API_TOKEN": "case-api-token-value",
    }
    for name, value in others.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://assistant:db-pass-value@db.example:5432/assistant",
        redis_url="redis://:redis-pass-value@redis.example:6379/0",
    )
    stack = Stack(settings, tmp_path / "m.tar.gz", with_emulator=False)
    engine = _engine(stack)
    own = {
        stack.settings.engine_api_token.get_secret_value(),  # type: ignore[union-attr]
        stack.settings.engine_hop_secret.get_secret_value(),  # type: ignore[union-attr]
        stack.settings.actions_hop_secret.get_secret_value(),  # type: ignore[union-attr]
        "db-pass-value",
        "redis-pass-value",
    }
    assert not [key for key in engine.env if key.startswith("ASSISTANT_") or key == "TELEGRAM_BOT_TOKEN"]
    assert not [v for v in engine.env.values() if any(other in v for other in others.values())]
    assert own <= set(engine.env.values())
    assert engine.env["ENGINE_DATABASE_PASSWORD"] == "db-pass-value"
    assert engine.env["ENGINE_REDIS_PASSWORD"] == "redis-pass-value"
    endpoints = (tmp_path / "engine" / "endpoints.yml").read_text()
    assert "pass-value" not in endpoints
    assert "${ENGINE_DATABASE_PASSWORD}" in endpoints and "${ENGINE_REDIS_PASSWORD}" in endpoints
    # The other services still get what they need.
    gateway = next(s for s in stack.plan() if s.name == "gateway")
    assert gateway.env["TELEGRAM_BOT_TOKEN"] == others["TELEGRAM_BOT_TOKEN"]


async def test_the_engine_started_alone_checks_its_secrets_before_loading_the_model(monkeypatch, tmp_path, capsys):
    """Before, `serve engine` loaded (or trained) the model first and only then said a secret was missing."""
    import assistant.__main__ as main

    async def no_model(settings: Settings) -> None:
        raise AssertionError("the model was loaded before the secrets were checked")

    monkeypatch.setattr(main, "_model", no_model)
    assert await main.cmd_serve(loopback_settings(tmp_path), "engine") == 2
    assert "ASSISTANT_ENGINE_API_TOKEN" in capsys.readouterr().out


async def test_the_launcher_refuses_a_case_api_url_that_misses_the_sandbox_it_starts(tmp_path):
    """Before, an old .env's ASSISTANT_CASE_API_URL=http://127.0.0.1:8090 with another port meant no sandbox
    and actions calling a dead port, while the launcher said "running"."""
    settings = loopback_settings(tmp_path, case_api_url="http://127.0.0.1:8090")
    stack = Stack(settings, tmp_path / "m.tar.gz", with_emulator=False)
    with pytest.raises(RuntimeError, match=r"ASSISTANT_CASE_API_URL is http://127\.0\.0\.1:8090, but the case API"):
        await stack.start()
    assert not stack.services
    # Its own port spelled another way is the sandbox too; a case API elsewhere is left alone.
    port = settings.case_api_port
    for url, sandbox in ((f"http://localhost:{port}", True), ("https://cases.example.org", False)):
        moved = settings.model_copy(update={"case_api_url": url})
        stack = Stack(moved, tmp_path / "m.tar.gz", with_emulator=False)
        stack.check_wiring()
        assert ("case-api" in {s.name for s in stack.plan()}) == sandbox


def test_a_webhook_secret_telegram_would_refuse_stops_the_start_with_the_reason():
    """Before, the env file said `openssl rand -base64 32`: Telegram refuses such a secret_token (+ / =), and
    webhook mode failed at setWebhook."""
    from pydantic import ValidationError

    base64_made = "q3Zk+9vYw/Xb1c2Lr0m8e7T6s5R4p3O2n1M0l9K8j7I="
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, webhook_secret=base64_made)
    assert "openssl rand -hex 32" in str(refused.value) and base64_made not in str(refused.value)
    for wrong in ("a" * 257, "with space", "é"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, webhook_secret=wrong)
    for right in ("0f" * 32, "A-z_9", "a" * 256):
        assert Settings(_env_file=None, webhook_secret=right).webhook_secret == SecretStr(right)
    example = (Path(__file__).parent.parent.parent / "deploy" / "assistant.env.example").read_text(encoding="utf-8")
    assert "openssl rand -hex 32" in example
