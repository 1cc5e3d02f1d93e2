"""New ways to ask, published in the console, retrain the model in the background and hot-swap it into the
running engine; a failed training is reported and leaves the old model serving. A publish is a quick update:
the served model fine-tuned on the new data (the choice itself: tests/training/test_retraining_choice.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import ClientSession, CookieJar
from sqlalchemy import select

from core.bootstrap import open_database
from knowledge.models import TrainingRun
from telegram_emulator.html_check import parse_html
from tests.e2e.conftest import STAFF_PASSWORD
from tests.support.console import csrf_of, form_of
from training.engine_admin import loaded_model

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
KEY = "citizenship_naturalisation"


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


async def last_run(running, timeout_s: float = 900) -> TrainingRun:
    # A quick update; should it fall back to a whole training: 220-660 s on 2 cores, depending on the machine.
    database = await open_database(running.settings)
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


async def test_published_variant_retrains_and_reloads_the_engine(running):
    before = await loaded_model(running.settings)
    assert before is not None
    new_question = "which steps lead a long-time resident to an Azerbaijani passport of his own"
    page = await publish_variant(running.console_url, new_question)
    assert "being retrained" in page
    run = await last_run(running)
    assert run.status == "succeeded", run.error
    assert run.reloaded and run.model and run.seconds
    assert run.finetuned_from == before and not run.full  # the served model, fine-tuned
    assert await loaded_model(running.settings) == run.model != before
    (reply,) = await running.driver.ask(800_001, new_question)
    assert "5" in parse_html(reply["html"]).text and "citizenship" in parse_html(reply["html"]).text.lower()


async def test_failed_training_is_reported_and_the_old_model_keeps_serving(running):
    serving = await loaded_model(running.settings)
    # A staff mistake Rasa's validation catches: a variant that is already an example of another intent
    # ("thank you very much" means thanks, not citizenship). The run must fail cleanly.
    duplicate = "thank you very much"
    await publish_variant(running.console_url, duplicate)
    run = await last_run(running)
    assert run.status == "failed" and run.error is not None and "invalid" in run.error
    assert not run.reloaded
    assert await loaded_model(running.settings) == serving
    (reply,) = await running.driver.ask(800_002, "hello")
    assert parse_html(reply["html"]).text.startswith("Hello")
