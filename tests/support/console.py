"""The staff console over HTTP, for the tests that drive it: consoles with staff accounts (fixtures), a logged-in
client, and reading its pages' CSRF tokens and forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.publishing import csrf_of
from console.app import build
from console.auth import StaffAuth
from console.web import STATE
from knowledge.curation import Role
from training.trainer import TrainingResult

PASSWORD = "correct horse battery"


@pytest.fixture
async def console_server(db_settings):
    reloaded: list[Path] = []

    async def fake_reload(result: TrainingResult, run_id: int) -> None:
        reloaded.append(result.model)

    app = build(db_settings, reload=fake_reload)
    server = TestServer(app)
    await server.start_server()
    from console.web import STATE

    console = app[STATE].console
    assert console is not None
    auth: StaffAuth = console.auth
    for name, role in (("erin", Role.editor), ("rita", Role.reviewer), ("adam", Role.admin)):
        await auth.create_user(name, PASSWORD, role)
    yield server, reloaded
    await server.close()


@asynccontextmanager
async def client_for(server: TestServer, username: str | None) -> AsyncIterator[TestClient]:
    """A browser-like client, logged in as `username` (or anonymous)."""
    client = TestClient(server)
    await client.start_server()
    try:
        if username:
            await log_in(client, username)
        yield client
    finally:
        await client.close()


async def log_in(client: TestClient | aiohttp.ClientSession, username: str) -> None:
    """Logs `client` (a test client, or a session with the console as its base URL) in as `username`."""
    page = await (await client.get("/login")).text()
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": csrf_of(page), "next": "/"}
    )
    assert response.status == 200 and "Log out" in await response.text()


@pytest.fixture
async def console(db_settings):
    server = TestServer(build(db_settings))
    await server.start_server()
    console = server.app[STATE].console
    assert console is not None
    for name, role in (("erin", Role.editor), ("rita", Role.reviewer)):
        await console.auth.create_user(name, PASSWORD, role)
    yield server
    await server.close()
