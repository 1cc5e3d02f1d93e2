"""New ways to ask, published in the console, retrain the model in the background and roll it out to the
running engine: one engine is replaced blue/green, a new engine on the new model taking over from the old
one. A failed training is reported and leaves the old model serving. A publish is a quick update: the served
model fine-tuned on the new data (the choice itself: tests/training/test_retraining_choice.py; several
engines: tests/e2e/test_model_rollout.py)."""

from __future__ import annotations

import pytest

from benchmarks.publishing import NEW_QUESTION, last_run, publish_variant
from core.bootstrap import open_database
from telegram_emulator.html_check import parse_html
from training.engine_admin import loaded_model
from training.model_store import ModelStore

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def served(settings) -> str | None:
    """The model the engine serves, asked through HAProxy."""
    return await loaded_model(settings.engine_url, settings.engine_api_token.get_secret_value())


async def test_published_variant_retrains_and_reloads_the_engine(running):
    before = await served(running.settings)
    assert before is not None
    old_engine = running.stack.service("engine")
    new_question = NEW_QUESTION
    page = await publish_variant(running.console_url, new_question)
    assert "being retrained" in page
    run = await last_run(running.settings)
    assert run.status == "succeeded", run.error
    assert run.reloaded and run.model and run.seconds
    assert run.finetuned_from == before and not run.full  # the served model, fine-tuned
    assert await served(running.settings) == run.model != before
    new_engine = running.stack.service("engine")
    assert new_engine is not old_engine and old_engine.process.returncode is not None  # blue/green: replaced
    database = await open_database(running.settings)
    try:
        view = (await ModelStore(database.sessions).recent(1))[0]
        assert await ModelStore(database.sessions).pointer() == run.model
    finally:
        await database.close()
    assert view.rollout.run_id == run.id and view.rollout.status == "done"
    assert [(s.how, s.status) for s in view.switches] == [("blue/green", "serving")]
    (reply,) = await running.driver.ask(800_001, new_question)
    assert "5" in parse_html(reply["html"]).text and "citizenship" in parse_html(reply["html"]).text.lower()


async def test_failed_training_is_reported_and_the_old_model_keeps_serving(running):
    serving = await served(running.settings)
    # A staff mistake Rasa's validation catches: a variant that is already an example of another intent
    # ("thank you very much" means thanks, not citizenship). The run must fail cleanly.
    duplicate = "thank you very much"
    await publish_variant(running.console_url, duplicate)
    run = await last_run(running.settings)
    assert run.status == "failed" and run.error is not None and "invalid" in run.error
    assert not run.reloaded
    assert await served(running.settings) == serving
    (reply,) = await running.driver.ask(800_002, "hello")
    assert parse_html(reply["html"]).text.startswith("Hello")
