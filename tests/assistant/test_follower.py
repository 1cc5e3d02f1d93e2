"""Kubernetes' way of following the pointer (assistant/follower.py): one follower beside each engine, on
the real model store (PostgreSQL: the cluster-wide lock is its advisory lock), with engines that behave
like Rasa's (tests/support/fake_engine.py). Engines switch one at a time, each unready while it loads; a
failed load sends the pointer, and the engines that switched, back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pydantic import SecretStr

from assistant.follower import Follower
from benchmarks.services import scratch_database
from core.bootstrap import open_database
from core.settings import Settings
from tests.support.fake_engine import TOKEN, FakeEngine
from training.model_store import ModelStore

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def cluster(
    tmp_path, postgres_url
) -> AsyncIterator[tuple[Settings, ModelStore, list[Follower], list[FakeEngine]]]:

    async with scratch_database(postgres_url) as url:
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path,
            database_url=url,
            engine_api_token=SecretStr(TOKEN),
            follow_engines=2,
            follow_drain_s=0.3,
            follow_every_s=0.1,
        )
        databases = [await open_database(settings) for _ in range(3)]
        store = ModelStore(databases[0].sessions)
        for name in ("model-old.tar.gz", "model-new.tar.gz"):
            (tmp_path / name).write_bytes(name.encode())
            await store.put(tmp_path / name, name, {})
        await store.point("model-old.tar.gz", "test", queue_rollout=False)
        engines = [FakeEngine(store, "model-old.tar.gz") for _ in range(2)]
        for engine in engines:
            await engine.start()
        followers = [
            Follower(settings, databases[i + 1], f"http://127.0.0.1:{engine.port}", f"engine-pod-{i + 1}")
            for i, engine in enumerate(engines)
        ]
        try:
            yield settings, store, followers, engines
        finally:
            for engine in engines:
                await engine.stop()
            for database in databases:
                await database.close()


async def watch_readiness(followers: list[Follower], stop: asyncio.Event) -> list[tuple[bool, ...]]:
    """How the kubelet sees the pods, every 50 ms."""
    seen = []
    while not stop.is_set():
        seen.append(tuple([await f.ready() for f in followers]))
        await asyncio.sleep(0.05)
    return seen


async def test_engines_follow_the_pointer_one_at_a_time_each_unready_while_it_loads(cluster):
    _, store, followers, engines = cluster
    assert [await f.ready() for f in followers] == [True, True]
    rollout_id = await store.point("model-new.tar.gz", "training run 3", 3)
    stop = asyncio.Event()
    readiness = asyncio.create_task(watch_readiness(followers, stop))
    switched = await asyncio.gather(*(f.follow_once() for f in followers))
    stop.set()
    seen = await readiness
    assert switched == [True, True] and [e.model for e in engines] == ["model-new.tar.gz"] * 2
    assert (False, False) not in seen  # never both out of the Service at once
    assert (False, True) in seen and (True, False) in seen  # each was out while it loaded
    assert all(e.asked_while_loading == 0 for e in engines)
    assert rollout_id is not None
    rollout = await store.rollout(rollout_id)
    assert rollout is not None and rollout.status == "done"
    (view,) = await store.recent(1)
    assert sorted((s.engine, s.how, s.status) for s in view.switches) == [
        ("engine-pod-1", "drained", "serving"),
        ("engine-pod-2", "drained", "serving"),
    ]
    assert [await f.follow_once() for f in followers] == [False, False]  # nothing more to do


async def test_a_failed_load_sends_the_pointer_and_the_engines_back(cluster):
    _, store, followers, engines = cluster
    engines[1].broken = True
    rollout_id = await store.point("model-new.tar.gz", "training run 4", 4)
    assert await followers[0].follow_once() is True  # the first switched
    assert await followers[1].follow_once() is False  # the second could not load
    assert rollout_id is not None
    rollout = await store.rollout(rollout_id)
    assert rollout is not None and rollout.status == "failed" and "engine-pod-2 could not load" in str(rollout.error)
    assert await store.pointer() == "model-old.tar.gz" and engines[1].model == "model-old.tar.gz"
    assert await followers[0].follow_once() is True  # follows the pointer back
    assert [e.model for e in engines] == ["model-old.tar.gz"] * 2
    assert all([await f.ready() for f in followers])
    (view,) = await store.recent(1)
    assert sorted((s.engine, s.status) for s in view.switches) == [
        ("engine-pod-1", "rolled back"),
        ("engine-pod-2", "failed"),
    ]


async def test_an_engine_without_a_model_gets_the_pointers_at_once(cluster):
    _, _, followers, engines = cluster
    engines[0].model = None  # it started while the console was unreachable
    assert await followers[0].ready() is False
    assert await followers[0].follow_once() is True
    assert engines[0].model == "model-old.tar.gz" and await followers[0].ready() is True
