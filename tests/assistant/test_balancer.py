"""The loopback load balancer in front of replicas: round robin, failover only when a request certainly was
not handled, health checks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import ClientSession, web

from assistant.balancer import Balancer
from tests.conftest import free_port


class Replica:
    def __init__(self, name: str) -> None:
        self.name, self.port, self.mode, self.hits = name, free_port(), "ok", 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/health":
            return web.Response(status=200 if self.mode != "sick" else 500)
        self.hits += 1
        if self.mode == "busy":
            return web.Response(status=503)
        if self.mode == "crash":
            assert request.transport is not None
            request.transport.close()  # the connection drops after the request was read
            await asyncio.sleep(1)
        body = await request.text()
        return web.json_response({"replica": self.name, "body": body, "header": request.headers.get("X-Token")})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@contextlib.asynccontextmanager
async def balanced(replicas: list[Replica]):
    for replica in replicas:
        await replica.start()
    balancer = Balancer([f"http://127.0.0.1:{r.port}" for r in replicas], check_every_s=0.1, down_for_s=0.5)
    runner = web.AppRunner(balancer.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        for replica in replicas:
            await replica.stop()


async def post(session: ClientSession, url: str) -> tuple[int, Any]:
    """The status and, when it is 200, the JSON body (else None)."""
    async with session.post(f"{url}/webhooks/x?y=1", data="hello", headers={"X-Token": "t"}) as response:
        return response.status, (await response.json() if response.status == 200 else None)


async def test_requests_take_turns_and_arrive_whole():
    a, b = Replica("a"), Replica("b")
    async with balanced([a, b]) as (session, url):
        answers = [await post(session, url) for _ in range(6)]
    assert all(status == 200 and body["body"] == "hello" and body["header"] == "t" for status, body in answers)
    assert (a.hits, b.hits) == (3, 3)


async def test_a_stopped_replica_is_skipped_and_a_busy_one_handed_over():
    a, b = Replica("a"), Replica("b")
    async with balanced([a, b]) as (session, url):
        await a.stop()  # connection refused: certainly not handled, so the other replica takes it
        assert {(await post(session, url))[1]["replica"] for _ in range(4)} == {"b"}
        await a.start()
        await asyncio.sleep(0.7)
        b.mode = "busy"  # 503: not handled, the other takes it
        assert {(await post(session, url))[1]["replica"] for _ in range(4)} == {"a"}


async def test_a_request_that_may_have_been_handled_is_not_repeated():
    a, b = Replica("a"), Replica("b")
    a.mode = b.mode = "crash"
    async with balanced([a, b]) as (session, url):
        status, _ = await post(session, url)
    assert status == 502 and a.hits + b.hits == 1


async def test_health_checks_take_a_sick_replica_out_of_turn():
    a, b = Replica("a"), Replica("b")
    async with balanced([a, b]) as (session, url):
        a.mode = "sick"
        await asyncio.sleep(0.3)
        assert {(await post(session, url))[1]["replica"] for _ in range(4)} == {"b"}
        a.mode = "ok"
        await asyncio.sleep(0.3)
        assert {(await post(session, url))[1]["replica"] for _ in range(4)} == {"a", "b"}
