"""Staff publishing a new way to ask through the console as they do (an editor submits, a reviewer
publishes), and waiting for the training run it starts: the rollout benchmark and the end-to-end retraining
and rollout tests."""

from __future__ import annotations

import asyncio
import html as html_lib
import re
import time

from aiohttp import ClientSession, CookieJar
from sqlalchemy import select

from console.auth import StaffAuth
from core.bootstrap import open_database
from core.settings import Settings
from knowledge.curation import Role
from knowledge.models import TrainingRun

STAFF = {"erin": Role.editor, "rita": Role.reviewer, "adam": Role.admin}
STAFF_PASSWORD = "correct horse battery"
KEY = "citizenship_naturalisation"
NEW_QUESTION = "which steps lead a long-time resident to an Azerbaijani passport of his own"


async def create_staff(settings: Settings) -> None:
    database = await open_database(settings)
    try:
        for name, role in STAFF.items():
            await StaffAuth(database.sessions).create_user(name, STAFF_PASSWORD, role)
    finally:
        await database.close()


async def staff_session(base: str, user: str) -> ClientSession:
    session = ClientSession(cookie_jar=CookieJar(unsafe=True))
    async with session.get(f"{base}/login") as response:
        token = csrf_of(await response.text())
    async with session.post(
        f"{base}/login", data={"username": user, "password": STAFF_PASSWORD, "csrf": token, "next": "/"}
    ) as response:
        assert "Log out" in await response.text()
    return session


async def publish_variant(base: str, variant: str) -> str:
    editor, reviewer = await staff_session(base, "erin"), await staff_session(base, "rita")
    try:
        async with editor.get(f"{base}/entries/{KEY}") as response:
            page = await response.text()
        form = form_of(page)
        form["en_variants"] += "\n" + variant
        form.update(action="submit", csrf=csrf_of(page))
        async with editor.post(f"{base}/entries/{KEY}/save", data=form) as response:
            assert "submitted for review" in await response.text()
        async with reviewer.get(f"{base}/entries/{KEY}") as response:
            token = csrf_of(await response.text())
        async with reviewer.post(f"{base}/entries/{KEY}/publish", data={"csrf": token}) as response:
            return await response.text()
    finally:
        await editor.close()
        await reviewer.close()


async def last_run(settings, timeout_s: float = 900) -> TrainingRun:
    # A quick update; should it fall back to a whole training: 220-660 s on 2 cores, depending on the machine.
    database = await open_database(settings)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            async with database.sessions() as session:
                run = await session.scalar(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(1))
            if run is not None and run.status not in ("queued", "running"):
                return run
            await asyncio.sleep(2)
        raise TimeoutError("the training run did not finish")
    finally:
        await database.close()


# Reading the console's pages as a browser would.


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
    return {k: html_lib.unescape(v) for k, v in fields.items()}
