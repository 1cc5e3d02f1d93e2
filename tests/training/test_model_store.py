"""The model store on SQLite and PostgreSQL: archives kept whole and checked, the pointer and its rollouts,
and the console serving the pointer's archive to engines in the shape of Rasa's model server."""

from __future__ import annotations

import hashlib
import os

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from console.app import build
from console.web import STATE
from core.bootstrap import open_database
from training import model_store
from training.model_store import ModelStore
from training.publishing import RolloutFailed, publish
from training.trainer import TrainingResult, write_lineage


@pytest.fixture
async def store(db_settings):
    database = await open_database(db_settings)
    try:
        yield ModelStore(database.sessions)
    finally:
        await database.close()


def archive(folder, name: str, size: int):
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


async def test_an_archive_is_kept_whole_in_chunks_and_fetched_back_checked(store, tmp_path, monkeypatch):
    monkeypatch.setattr(model_store, "CHUNK_BYTES", 1000)
    source = archive(tmp_path, "model-a.tar.gz", 4321)
    stored = await store.put(source, "a", {"structure": "s", "finetunes": 1, "base": "model-0.tar.gz"})
    assert stored.size == 4321 and stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (await store.put(source, "a", {})).lineage["finetunes"] == 1  # once per fingerprint
    assert b"".join([chunk async for chunk in store.chunks("model-a.tar.gz")]) == source.read_bytes()
    fetched = await store.fetch("model-a.tar.gz", tmp_path / "elsewhere")
    assert fetched is not None and fetched.read_bytes() == source.read_bytes()
    assert (tmp_path / "elsewhere" / "model-a.lineage.json").exists()  # a fine-tune can start from it there
    assert await store.fetch("model-missing.tar.gz", tmp_path) is None


async def test_pointing_queues_one_rollout_and_a_newer_one_supersedes_it(store, tmp_path):
    for name in ("model-a.tar.gz", "model-b.tar.gz", "model-c.tar.gz"):
        await store.put(archive(tmp_path, name, 10), name, {})
    assert await store.point("model-a.tar.gz", "launcher", queue_rollout=False) is None
    assert await store.pointer() == "model-a.tar.gz"
    first = await store.point("model-b.tar.gz", "training run 1", 1)
    assert await store.point("model-b.tar.gz", "training run 1", 1) is None  # already pointed at
    second = await store.point("model-c.tar.gz", "training run 2", 2)
    assert first is not None and second is not None
    claimed = await store.claim()
    # The engines never left model-a: a rollback goes there.
    assert claimed is not None and claimed.id == second and claimed.from_model == "model-a.tar.gz"
    assert await store.claim() is None  # one controller gets it
    superseded = await store.rollout(first)
    assert superseded is not None and superseded.status == "superseded"
    with pytest.raises(KeyError):
        await store.point("model-never-stored.tar.gz", "x")


async def test_pruning_keeps_the_newest_and_the_pointers(store, tmp_path):
    for i in range(7):
        await store.put(archive(tmp_path, f"model-{i}.tar.gz", 10), str(i), {})
    await store.point("model-0.tar.gz", "x", queue_rollout=False)
    assert await store.prune(keep=3) == 3
    assert await store.get("model-0.tar.gz") is not None and await store.get("model-1.tar.gz") is None


async def test_publishing_reports_a_rollout_no_controller_took(store, tmp_path):
    for name in ("model-a.tar.gz", "model-b.tar.gz"):
        write_lineage(archive(tmp_path, name, 10), {"structure": "s"})
    folder = tmp_path
    await store.put(folder / "model-a.tar.gz", "a", {})
    await store.point("model-a.tar.gz", "launcher", queue_rollout=False)
    result = TrainingResult(folder / "model-b.tar.gz", "b", True, 1.0)
    with pytest.raises(RolloutFailed, match="no rollout controller"):
        await publish(store, result, "training run 1", run_id=1, claim_timeout_s=0.5)
    assert await store.pointer() == "model-b.tar.gz"  # engines started from now on load it
    stored = await store.get("model-b.tar.gz")
    assert stored is not None and stored.lineage == {"structure": "s"}


async def test_the_console_serves_the_pointers_archive_to_engines_only(db_settings, tmp_path):
    settings = db_settings.model_copy(update={"engine_api_token": SecretStr("engine-token")})

    async def no_rollout(result: TrainingResult, run_id: int) -> None:
        pass

    app = build(settings, reload=no_rollout)
    server = TestServer(app)
    await server.start_server()
    try:
        console = app[STATE].console
        assert console is not None
        store = console.models
        source = archive(tmp_path, "model-z.tar.gz", 3000)
        await store.put(source, "z", {})
        url = f"http://127.0.0.1:{server.port}/engine/model"
        bearer = {"Authorization": "Bearer engine-token"}
        async with ClientSession() as session:
            for wrong in ({}, {"Authorization": "Bearer nope"}, {"Cookie": "x=y"}):
                async with session.get(url, headers=wrong) as response:
                    assert response.status == 401  # no staff login either: engines only
            async with session.get(url, headers=bearer) as response:
                assert response.status == 404  # nothing pointed at yet
            await store.point("model-z.tar.gz", "test", queue_rollout=False)
            async with session.get(url, headers=bearer) as response:
                assert response.status == 200 and response.headers["ETag"] == "model-z.tar.gz"
                assert response.headers["filename"] == "model-z.tar.gz"  # Rasa names the file after it
                assert await response.read() == source.read_bytes()
            async with session.get(url, headers={**bearer, "If-None-Match": "model-z.tar.gz"}) as response:
                assert response.status == 304  # the engine has it already
    finally:
        await server.close()
