"""The console's page of paused status lookups: listed for staff only, found by number, lifted by an admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from benchmarks.publishing import csrf_of
from cases.lockout import MAX_FAILURES, Lockout, Paused
from console.app import build
from console.web import STATE
from core.bootstrap import open_database
from core.secret_key import secret_key
from knowledge.curation import Role
from tests.support.console import PASSWORD, log_in

NUMBER = "TRP-2026-000101"


@pytest.fixture
async def console(db_settings) -> AsyncIterator[tuple[TestServer, Lockout]]:
    """The console, and the action server's side of the lockout: its own connection to the same database."""
    server = TestServer(build(db_settings))
    await server.start_server()
    console = server.app[STATE].console
    assert console is not None
    for name, role in (("erin", Role.editor), ("adam", Role.admin)):
        await console.auth.create_user(name, PASSWORD, role)
    actions_database = await open_database(db_settings)
    try:
        yield server, Lockout(actions_database.sessions, secret_key(db_settings))
    finally:
        await actions_database.close()
        await server.close()


@asynccontextmanager
async def client_for(server: TestServer, username: str | None) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser of its own (cookies), logged in as `username` or anonymous; the server outlives it."""
    jar = aiohttp.CookieJar(unsafe=True)  # the server is an IP address
    async with aiohttp.ClientSession(base_url=str(server.make_url("/")), cookie_jar=jar) as client:
        if username:
            await log_in(client, username)
        yield client


async def guess(lockout: Lockout, number: str = NUMBER, chats: int = MAX_FAILURES, same_chat: bool = False) -> None:
    """Failed verifications, as the status action records them (admitted lookups that were not withdrawn)."""
    for attempt in range(chats):
        await lockout.admit("guesser" if same_chat else f"guesser-{attempt}", number)


async def test_paused_applications_are_listed_for_logged_in_staff_only(console):
    server, lockout = console
    await guess(lockout)
    await guess(lockout, "TRP-2026-000102", chats=MAX_FAILURES - 1)  # not paused yet
    reference = lockout.application_hash(NUMBER)[:12]
    async with client_for(server, None) as anonymous:
        response = await anonymous.get("/lockouts", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login")
        assert (await anonymous.post("/lockouts/lift", data={"application": reference})).status == 403
    async with client_for(server, "erin") as editor:
        response = await editor.get("/lockouts")
        page = await response.text()
        assert response.status == 200 and "Paused lookups" in page
        assert reference in page and f"<td>{MAX_FAILURES}</td>" in page
        assert lockout.application_hash("TRP-2026-000102")[:12] not in page
        assert NUMBER not in page
        assert "Lift the pause" not in page and lockout.application_hash(NUMBER) not in page  # editors cannot lift
        assert "Chats paused for their own failed attempts: 0" in page


async def test_staff_find_an_application_by_its_number(console):
    server, lockout = console
    await guess(lockout)
    async with client_for(server, "erin") as editor:
        token = csrf_of(await (await editor.get("/lockouts")).text())
        found = await (await editor.post("/lockouts/find", data={"csrf": token, "number": "trp 2026 000101"})).text()
        assert f"{NUMBER}:" in found and "paused until" in found and lockout.application_hash(NUMBER)[:12] in found
        other = await (await editor.post("/lockouts/find", data={"csrf": token, "number": "TRP-2026-000102"})).text()
        assert "TRP-2026-000102:" in other and "not paused" in other
        invalid = await editor.post("/lockouts/find", data={"csrf": token, "number": "twelve"})
        assert invalid.status == 400 and "not an application number" in await invalid.text()


async def test_an_admin_lifts_an_applications_pause_and_the_users_stays(console):
    server, lockout = console
    await guess(lockout, same_chat=True)  # one chat's five failures: both the chat and the number are paused
    paused = await lockout.paused("someone", NUMBER)
    assert isinstance(paused, Paused) and paused.scope == "application"
    application = lockout.application_hash(NUMBER)
    async with client_for(server, "erin") as editor:
        token = csrf_of(await (await editor.get("/lockouts")).text())
        refused = await editor.post("/lockouts/lift", data={"csrf": token, "application": application})
        assert refused.status == 403
    async with client_for(server, "adam") as admin:
        page = await (await admin.get("/lockouts")).text()
        assert "Lift the pause" in page and "Chats paused for their own failed attempts: 1" in page
        forged = await admin.post("/lockouts/lift", data={"csrf": "forged", "application": application})
        assert forged.status == 403
        assert await lockout.paused("someone", NUMBER) is not None
        lifted = await admin.post("/lockouts/lift", data={"csrf": csrf_of(page), "application": application})
        page = await lifted.text()
        assert lifted.status == 200 and "lifted" in page and "No application is paused." in page
    assert await lockout.paused("someone", NUMBER) is None  # the action server sees it at once
    still = await lockout.paused("guesser", NUMBER)
    assert isinstance(still, Paused) and still.scope == "user"
