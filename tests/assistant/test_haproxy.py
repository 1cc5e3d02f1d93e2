"""HAProxy as the launcher configures it, for real on loopback, with small HTTP servers as the engines:
health checks on /status, least connections, draining through the runtime API, retrying only what was not
handled, and its metrics behind the token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web

from assistant.haproxy import Backend, HAProxyAdmin, Server, config_text, haproxy_binary
from assistant.launcher import free_port

pytestmark = pytest.mark.skipif(haproxy_binary() is None, reason="HAProxy is not installed (scripts/setup.sh)")


class Engine:
    """Answers its name; /status 200 while `healthy`; a request to /slow takes a second."""

    def __init__(self, name: str) -> None:
        self.name, self.healthy, self.port, self.seen = name, True, free_port(), 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            if request.path == "/status":
                return web.Response(status=200 if self.healthy else 409)
            self.seen += 1
            if request.path == "/slow":
                await asyncio.sleep(1.0)
            if request.path == "/busy":
                return web.Response(status=503)
            return web.Response(text=self.name)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest_asyncio.fixture
async def balanced(tmp_path: Path) -> AsyncIterator[tuple[int, list[Engine], HAProxyAdmin, int]]:
    engines = [Engine("one"), Engine("two")]
    for engine in engines:
        await engine.start()
    port, metrics = free_port(), free_port()
    socket = tmp_path / "haproxy.sock"
    config = tmp_path / "haproxy.cfg"
    servers = [Server(f"engine-{i + 1}", e.port) for i, e in enumerate(engines)] + [Server("green", 1, False)]
    config.write_text(config_text([Backend("engines", port, servers, "/status", "leastconn")], socket, metrics, "tok"))
    process = await asyncio.create_subprocess_exec(str(haproxy_binary()), "-f", str(config), "-db")
    admin = HAProxyAdmin(socket)
    try:
        for _ in range(100):
            try:
                if all(s["status"] == "UP" for n, s in (await admin.stats("engines")).items() if n != "green"):
                    break
            except OSError:
                pass
            await asyncio.sleep(0.05)
        yield port, engines, admin, metrics
    finally:
        process.terminate()
        await process.wait()
        for engine in engines:
            await engine.stop()


async def texts(port: int, n: int, path: str = "/") -> list[str]:
    async with ClientSession() as session:
        results = []
        for _ in range(n):
            async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                results.append(await response.text())
        return results


async def test_requests_are_spread_over_the_engines_one_by_one(balanced):
    port, _, _, _ = balanced
    assert set(await texts(port, 6)) == {"one", "two"}  # per request, over one kept-alive connection


async def test_a_drained_engine_gets_nothing_new_and_its_requests_under_way_finish(balanced):
    port, engines, admin, _ = balanced
    async with ClientSession() as session:
        slow = asyncio.ensure_future(session.get(f"http://127.0.0.1:{port}/slow"))
        await asyncio.sleep(0.2)
        busy = next(name for name, row in (await admin.stats("engines")).items() if row["scur"] == "1")
        assert await admin.in_progress("engines", busy) == 1
        await admin.set_state("engines", busy, "drain")
        others = await texts(port, 4)
        response = await slow
        assert response.status == 200  # finished where it started
        response.release()
    drained = engines[int(busy[-1]) - 1].name
    assert drained not in others and await admin.in_progress("engines", busy) == 0
    await admin.set_state("engines", busy, "ready")
    assert drained in await texts(port, 4)


async def test_an_engine_without_a_model_is_taken_out_and_a_spare_slot_takes_a_new_one(balanced):
    port, engines, admin, _ = balanced
    engines[0].healthy = False  # /status 409: no model loaded
    await asyncio.sleep(6.5)  # three failed checks, two seconds apart
    assert await admin.status("engines", "engine-1") == "DOWN"
    assert set(await texts(port, 4)) == {"two"}
    newcomer = Engine("three")
    await newcomer.start()
    try:
        await admin.set_address("engines", "green", newcomer.port)
        await admin.set_state("engines", "green", "ready")
        await admin.set_state("engines", "engine-2", "maint")
        await asyncio.sleep(1.2)
        assert set(await texts(port, 4)) == {"three"}
    finally:
        await newcomer.stop()


async def test_only_what_certainly_was_not_handled_is_sent_elsewhere(balanced):
    port, engines, _, _ = balanced
    await engines[1].stop()  # refuses connections, until the health check notices
    assert set(await texts(port, 4)) == {"one"}  # each refused attempt went to the other: none lost
    await engines[1].start()  # back, on the same port
    await asyncio.sleep(1.2)
    seen = engines[0].seen + engines[1].seen
    async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/busy") as response:
        assert response.status == 503  # "cannot take it now" was retried, then passed on
    assert engines[0].seen + engines[1].seen - seen >= 2


async def test_its_metrics_need_the_token(balanced):
    _, _, _, metrics = balanced
    async with ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{metrics}/metrics") as response:
            assert response.status == 401
        async with session.get(
            f"http://127.0.0.1:{metrics}/metrics", headers={"Authorization": "Bearer tok"}
        ) as response:
            assert response.status == 200
            assert "haproxy_server_up" in await response.text() or "haproxy_backend" in await response.text()


def test_the_compose_balancers_configurations_are_valid_haproxy(tmp_path: Path):
    """docker-compose's `serve balancer` containers (assistant/front.py), checked by HAProxy itself: names that
    do not resolve here (engine-1, gateway-2) leave those servers down, not HAProxy."""
    import subprocess

    from pydantic import SecretStr

    from assistant.front import write_config
    from core.settings import Settings
    from tests.assistant.test_deploy import compose

    services = compose()["services"]
    for name in ("engine-balancer", "gateway-balancer"):
        environment = {k.removeprefix("ASSISTANT_").lower(): v for k, v in services[name]["environment"].items()}
        keep = ("engine_upstreams", "gateway_upstreams", "balancer_metrics_port")
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path,
            engine_api_token=SecretStr("t"),
            metrics_token=SecretStr("m"),
            **{k: v for k, v in environment.items() if k in keep},
        )
        folder = tmp_path / name
        folder.mkdir()
        config = write_config(settings, folder)
        checked = subprocess.run([str(haproxy_binary()), "-c", "-f", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        text = config.read_text()
        upstreams = settings.engine_upstreams or settings.gateway_upstreams
        assert len(upstreams) == 2 and all(f" {upstream}" in text for upstream in upstreams)
