"""A publish reaches every engine: two engine replicas behind HAProxy, with real PostgreSQL (the model store,
ours and the engines' conversations) and Redis, roll out a new model one at a time; an engine that cannot load
a model keeps the old one; a restarted engine comes up on the store's pointer, whatever it served before.

The published question is the one tests/e2e/test_retraining.py publishes on the shipped data: its model is
trained once (models are cached by fingerprint) and reused here."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from assistant.launcher import Stack
from benchmarks.publishing import KEY, NEW_QUESTION, create_staff, last_run, publish_variant
from benchmarks.services import scratch_database
from core.bootstrap import Database, open_database
from knowledge.seeding import knowledge_base
from telegram_emulator.driver import EmulatorDriver, text_of
from tests.conftest import redis_cleanup
from tests.e2e.conftest import RunningStack, e2e_settings
from training.engine_admin import loaded_model
from training.model_store import ModelStore
from training.trainer import ensure_model

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two_engines(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[RunningStack]:
    namespace = f"roll{secrets.token_hex(4)}"
    async with scratch_database(postgres_url) as database_url:
        settings = e2e_settings(tmp_path_factory.mktemp("rollout")).model_copy(
            update={
                "database_url": database_url,
                "redis_url": redis_url,
                "redis_namespace": namespace,
                "engine_replicas": 2,
            }
        )
        async with knowledge_base(settings) as kb:
            model = (await ensure_model(settings, kb)).model
        stack = Stack(settings, model, with_emulator=True)
        try:
            await stack.start()
            await create_staff(stack.settings)
            async with EmulatorDriver(stack.settings.emulator_url, stack.settings.bot_token) as driver:
                yield RunningStack(stack.settings, stack, driver)
        finally:
            await stack.stop()
            await redis_cleanup(redis_url, namespace)


def token(running: RunningStack) -> str:
    assert running.settings.engine_api_token is not None
    return running.settings.engine_api_token.get_secret_value()


def engines(running: RunningStack) -> dict[str, str]:
    return {slot.name: slot.url for slot in running.stack.engine_slots()}


async def models_served(running: RunningStack) -> dict[str, str | None]:
    return {name: await loaded_model(url, token(running)) for name, url in engines(running).items()}


async def understood(running: RunningStack, url: str, text: str) -> str | None:
    """The FAQ entry the engine itself, asked directly, takes `text` for (Rasa's /model/parse)."""
    async with (
        ClientSession() as session,
        session.post(f"{url}/model/parse", params={"token": token(running)}, json={"text": text}) as response,
    ):
        parsed = await response.json()
    selected = (parsed.get("response_selector") or {}).get("faq", {}).get("response", {})
    key = str(selected.get("intent_response_key") or "")
    return key.removeprefix("faq/") if parsed["intent"]["name"] == "faq" else None


async def store_of(running: RunningStack) -> tuple[ModelStore, Database]:
    database = await open_database(running.settings)
    return ModelStore(database.sessions), database


async def test_a_publish_reaches_both_engines_one_at_a_time(two_engines):
    before = await models_served(two_engines)
    assert len(before) == 2 and len(set(before.values())) == 1 and None not in before.values()
    page = await publish_variant(two_engines.console_url, NEW_QUESTION)
    assert "being retrained" in page
    run = await last_run(two_engines.settings)
    assert run.status == "succeeded", run.error
    assert run.reloaded and run.model
    assert await models_served(two_engines) == dict.fromkeys(before, run.model)
    for url in engines(two_engines).values():
        assert await understood(two_engines, url, NEW_QUESTION) == KEY
    store, database = await store_of(two_engines)
    try:
        (view,) = await store.recent(1)
    finally:
        await database.close()
    assert view.rollout.status == "done" and view.rollout.run_id == run.id
    assert sorted((s.engine, s.how, s.status) for s in view.switches) == [
        ("engine-1", "drained", "serving"),
        ("engine-2", "drained", "serving"),
    ]
    (reply,) = await two_engines.driver.ask(810_001, NEW_QUESTION)
    assert "citizenship" in text_of(reply).lower()


async def test_an_engine_that_cannot_load_a_model_keeps_the_old_one(two_engines, tmp_path: Path):
    serving = await models_served(two_engines)
    broken = tmp_path / "model-broken.tar.gz"
    broken.write_bytes(b"not a model archive")
    store, database = await store_of(two_engines)
    try:
        await store.put(broken, "broken", {})
        rollout_id = await store.point(broken.name, "test")
        assert rollout_id is not None
        while (rollout := await store.rollout(rollout_id)) is not None and rollout.status in ("pending", "rolling"):  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        assert rollout is not None and rollout.status == "failed" and "could not load" in str(rollout.error)
        assert await store.pointer() == next(iter(serving.values()))  # the pointer went back too
        (view,) = await store.recent(1)
    finally:
        await database.close()
    assert [s.status for s in view.switches] == ["failed"]  # the first engine failed: the second never tried
    assert await models_served(two_engines) == serving
    (reply,) = await two_engines.driver.ask(810_002, "hello")
    assert text_of(reply).startswith("Hello")


async def test_a_restarted_engine_comes_up_on_the_pointers_model(two_engines):
    serving = await models_served(two_engines)
    store, database = await store_of(two_engines)
    try:
        # The model the stack started with: still in the store, pointed at without a rollout.
        started_with = two_engines.stack.model.name
        assert started_with not in serving.values()
        await store.point(started_with, "test", queue_rollout=False)
    finally:
        await database.close()
    await two_engines.stack.restart_service("engine-2")
    after = await models_served(two_engines)
    assert after["engine-2"] == started_with  # not the model it served before the restart
    assert after["engine-1"] == serving["engine-1"]
