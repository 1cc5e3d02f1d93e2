"""The staff console over HTTP, for the tests that drive it: consoles with staff accounts (fixtures), a logged-in
client, and reading its pages' CSRF tokens and forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from console.app import build
from console.auth import StaffAuth
from console.web import STATE
from knowledge.curation import Role

PASSWORD = "correct horse battery"


@pytest.fixture
async def console_server(db_settings):
    reloaded: list[Path] = []

    async def fake_reload(model: Path) -> None:
        reloaded.append(model)

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


def found(pattern: str, text: str, flags: int = 0) -> str:
    """The pattern's first group in the text, which must have it."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"no {pattern!r} in the page"
    return match.group(1)


def csrf_of(html: str) -> str:
    return found(r'name="csrf" value="([^"]+)"', html)


def form_of(html: str) -> dict[str, str]:
    """The entry form's current values, as a browser would submit them."""
    fields = dict(re.findall(r'<input name="([^"]+)" value="([^"]*)"', html))
    fields.update(re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', html, re.S))
    for name in ("topic", "review_state"):
        select = found(rf'<select name="{name}">(.*?)</select>', html, re.S)
        fields[name] = found(r'<option value="([^"]+)" selected', select)
    import html as html_lib

    return {k: html_lib.unescape(v) for k, v in fields.items()}


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
