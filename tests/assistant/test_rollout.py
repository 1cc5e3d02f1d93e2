"""The rollout controller (assistant/rollout.py) with the real model store (SQLite and PostgreSQL), real
HAProxy, and small HTTP servers that behave like Rasa engines: `/status` names the model they serve,
`PUT /model` loads the store's pointer and blocks for a while as Rasa's does. Users ask all along: no
request may reach an engine while it loads, and every engine ends on the same model."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from assistant.haproxy import Backend, HAProxyAdmin, Server, config_text, haproxy_binary
from assistant.launcher import free_port
from assistant.rollout import EngineSlot, RolloutController
from core.bootstrap import open_database
from tests.support.fake_engine import TOKEN, FakeEngine
from training.model_store import ModelStore

pytestmark = pytest.mark.skipif(haproxy_binary() is None, reason="HAProxy is not installed (scripts/setup.sh)")


class FakeFleet:
    """The launcher's side: the engines, and for blue/green a twin started on the pointer's model."""

    def __init__(self, store: ModelStore, engines: dict[str, FakeEngine], servers: dict[str, str]) -> None:
        self.store, self.engines, self.servers = store, engines, servers
        self.retired: list[str] = []
        self.room = True

    def engine_slots(self) -> list[EngineSlot]:
        return [EngineSlot(name, self.servers[name], e.port) for name, e in self.engines.items()]

    def room_for_twin(self) -> bool:
        return self.room

    async def start_twin(self, slot: EngineSlot) -> EngineSlot:
        twin = FakeEngine(self.store, str(await self.store.pointer()))
        await twin.start()
        name = f"{slot.name}'"
        self.engines[name] = twin
        self.servers[name] = "green" if slot.server == "blue" else "blue"
        return EngineSlot(name, self.servers[name], twin.port)

    async def retire(self, slot: EngineSlot) -> None:
        engine = self.engines.pop(slot.name)
        await engine.stop()
        self.retired.append(slot.name)


async def stored(store: ModelStore, folder: Path, name: str) -> None:
    archive = folder / name
    archive.write_bytes(name.encode() * 1000)
    await store.put(archive, name, {"structure": "s"})


@pytest_asyncio.fixture
async def store(db_settings) -> AsyncIterator[ModelStore]:
    database = await open_database(db_settings)
    try:
        models = ModelStore(database.sessions)
        for name in ("model-old.tar.gz", "model-new.tar.gz"):
            await stored(models, db_settings.data_dir, name)
        await models.point("model-old.tar.gz", "test", queue_rollout=False)
        yield models
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def haproxy(folder: Path, servers: list[Server]) -> AsyncIterator[tuple[int, HAProxyAdmin]]:
    port, socket = free_port(), folder / "haproxy.sock"
    config = folder / "haproxy.cfg"
    config.write_text(
        config_text([Backend("engines", port, servers, f"/status?token={TOKEN}", "leastconn")], socket, None, None)
    )
    process = await asyncio.create_subprocess_exec(str(haproxy_binary()), "-f", str(config), "-db")
    admin = HAProxyAdmin(socket)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                rows = await admin.stats("engines")
                if all(row["status"] == "UP" for row in rows.values() if row["status"] != "MAINT"):
                    break
            await asyncio.sleep(0.05)
        yield port, admin
    finally:
        process.terminate()
        await process.wait()


async def users_asking(port: int, stop: asyncio.Event) -> list[str]:
    """Five users asking all along through HAProxy; every answer (the model that gave it)."""
    answers: list[str] = []

    async def user() -> None:
        async with ClientSession() as session:
            while not stop.is_set():
                async with session.post(f"http://127.0.0.1:{port}/message") as response:
                    assert response.status == 200
                    answers.append(await response.text())
                await asyncio.sleep(0.02)

    await asyncio.gather(*(user() for _ in range(5)))
    return answers


async def test_replicas_switch_one_at_a_time_and_none_is_asked_while_it_loads(store, tmp_path):
    engines = {f"engine-{i}": FakeEngine(store, "model-old.tar.gz") for i in (1, 2, 3)}
    for engine in engines.values():
        await engine.start()
    fleet = FakeFleet(store, engines, {name: name for name in engines})
    async with haproxy(tmp_path, [Server(name, e.port) for name, e in engines.items()]) as (port, admin):
        stop = asyncio.Event()
        traffic = asyncio.create_task(users_asking(port, stop))
        controller = RolloutController(store, fleet, admin, TOKEN, poll_s=0.1)
        controller.start()
        try:
            rollout_id = await store.point("model-new.tar.gz", "training run 7", 7)
            assert rollout_id is not None
            while (rollout := await store.rollout(rollout_id)) is not None and rollout.status in ("pending", "rolling"):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            answers = await traffic
            await controller.stop()
    assert rollout is not None and rollout.status == "done" and rollout.run_id == 7
    assert {e.model for e in engines.values()} == {"model-new.tar.gz"}
    assert sum(e.asked_while_loading for e in engines.values()) == 0
    assert {"model-old.tar.gz", "model-new.tar.gz"} <= set(answers) and answers[-1] == "model-new.tar.gz"
    (view,) = await store.recent(1)
    assert [(s.engine, s.how, s.status) for s in view.switches] == [(name, "drained", "serving") for name in engines]
    assert all(s.finished_at is not None and s.finished_at >= s.started_at for s in view.switches)
    for engine in engines.values():
        await engine.stop()


async def test_an_engine_that_cannot_load_keeps_its_model_and_the_others_go_back(store, tmp_path):
    engines = {f"engine-{i}": FakeEngine(store, "model-old.tar.gz") for i in (1, 2)}
    engines["engine-2"].broken = True
    for engine in engines.values():
        await engine.start()
    fleet = FakeFleet(store, engines, {name: name for name in engines})
    async with haproxy(tmp_path, [Server(name, e.port) for name, e in engines.items()]) as (_, admin):
        controller = RolloutController(store, fleet, admin, TOKEN)
        rollout_id = await store.point("model-new.tar.gz", "training run 8", 8)
        rollout = await store.claim()
        assert rollout is not None and rollout.id == rollout_id
        await controller.carry_out(rollout)
        rows = await admin.stats("engines")
    assert {e.model for e in engines.values()} == {"model-old.tar.gz"}  # all on the old one again
    assert await store.pointer() == "model-old.tar.gz"  # and so is the pointer: a restart changes nothing
    finished = await store.rollout(rollout_id)
    assert finished is not None and finished.status == "failed" and "engine-2 could not load" in str(finished.error)
    (view,) = await store.recent(1)
    assert [(s.engine, s.status) for s in view.switches] == [("engine-1", "rolled back"), ("engine-2", "failed")]
    assert all(row["status"] != "DRAIN" for row in rows.values())  # both take messages again
    for engine in engines.values():
        await engine.stop()


async def test_one_engine_is_replaced_blue_green_with_no_reply_waiting(store, tmp_path):
    engines = {"engine": FakeEngine(store, "model-old.tar.gz")}
    await engines["engine"].start()
    fleet = FakeFleet(store, engines, {"engine": "blue"})
    servers = [Server("blue", engines["engine"].port), Server("green", 1, enabled=False)]
    async with haproxy(tmp_path, servers) as (port, admin):
        stop = asyncio.Event()
        traffic = asyncio.create_task(users_asking(port, stop))
        controller = RolloutController(store, fleet, admin, TOKEN)
        await asyncio.sleep(0.3)
        await store.point("model-new.tar.gz", "training run 9", 9)
        rollout = await store.claim()
        assert rollout is not None
        await controller.carry_out(rollout)
        await asyncio.sleep(0.3)
        stop.set()
        answers = await traffic
        rows = await admin.stats("engines")
    assert fleet.retired == ["engine"] and list(fleet.engines) == ["engine'"]
    assert rows["green"]["status"] == "UP" and rows["blue"]["status"] == "MAINT"
    assert answers[0] == "model-old.tar.gz" and answers[-1] == "model-new.tar.gz"
    (view,) = await store.recent(1)
    assert [(s.how, s.status) for s in view.switches] == [("blue/green", "serving")]
    for engine in fleet.engines.values():
        await engine.stop()


async def test_without_room_for_a_second_engine_the_one_engine_loads_in_place(store, tmp_path):
    engines = {"engine": FakeEngine(store, "model-old.tar.gz")}
    await engines["engine"].start()
    fleet = FakeFleet(store, engines, {"engine": "blue"})
    fleet.room = False
    async with haproxy(tmp_path, [Server("blue", engines["engine"].port)]) as (_, admin):
        await store.point("model-new.tar.gz", "training run 10", 10)
        rollout = await store.claim()
        assert rollout is not None
        await RolloutController(store, fleet, admin, TOKEN).carry_out(rollout)
    assert engines["engine"].model == "model-new.tar.gz"
    (view,) = await store.recent(1)
    assert [(s.how, s.status) for s in view.switches] == [("in place", "serving")]
    await engines["engine"].stop()


async def test_an_engine_that_came_up_without_a_model_gets_the_pointers(store, tmp_path):
    """It started while the model store was unreachable: Rasa answers 409 and HAProxy keeps it out."""
    engines = {"engine-1": FakeEngine(store, None), "engine-2": FakeEngine(store, "model-old.tar.gz")}
    for engine in engines.values():
        await engine.start()
    fleet = FakeFleet(store, engines, {name: name for name in engines})
    async with haproxy(tmp_path, [Server(name, e.port) for name, e in engines.items()]) as (_, admin):
        await RolloutController(store, fleet, admin, TOKEN).heal()
    assert [e.model for e in engines.values()] == ["model-old.tar.gz"] * 2
    for engine in engines.values():
        await engine.stop()


async def test_a_newer_publish_during_a_rollout_supersedes_it_and_every_engine_ends_on_the_newest(store, tmp_path):
    await stored(store, tmp_path, "model-newer.tar.gz")
    engines = {f"engine-{i}": FakeEngine(store, "model-old.tar.gz") for i in (1, 2)}
    engines["engine-1"].while_loading = lambda: store.point("model-newer.tar.gz", "training run 12", 12)
    for engine in engines.values():
        await engine.start()
    fleet = FakeFleet(store, engines, {name: name for name in engines})
    async with haproxy(tmp_path, [Server(name, e.port) for name, e in engines.items()]) as (_, admin):
        controller = RolloutController(store, fleet, admin, TOKEN)
        first_id = await store.point("model-new.tar.gz", "training run 11", 11)
        first = await store.claim()
        assert first is not None and first.id == first_id
        await controller.carry_out(first)
        first = await store.rollout(first.id)
        assert first is not None and first.status == "superseded"
        assert await store.pointer() == "model-newer.tar.gz"  # not rolled back to the old one
        engines["engine-1"].while_loading = None
        newer = await store.claim()
        assert newer is not None and newer.to_model == "model-newer.tar.gz"
        await controller.carry_out(newer)
    assert [e.model for e in engines.values()] == ["model-newer.tar.gz"] * 2
    newer = await store.rollout(newer.id)
    assert newer is not None and newer.status == "done"
    for engine in engines.values():
        await engine.stop()


async def test_an_engine_still_down_after_its_own_load_is_waited_for_not_loaded_around(store, tmp_path):
    """Right after its load an engine may still be DOWN in HAProxy (its checks failed while it loaded): the
    next engine waits for it to come back rather than load in place with nobody else serving."""
    engines = {f"engine-{i}": FakeEngine(store, "model-old.tar.gz") for i in (1, 2)}
    for engine in engines.values():
        await engine.start()
    fleet = FakeFleet(store, engines, {name: name for name in engines})
    async with haproxy(tmp_path, [Server(name, e.port) for name, e in engines.items()]) as (_, admin):
        controller = RolloutController(store, fleet, admin, TOKEN)
        second = fleet.engine_slots()[1]
        await admin.command("set server engines/engine-1 health down")  # as after failed checks
        assert await admin.status("engines", "engine-1") == "DOWN"
        assert await controller._another_up(second, wait_s=10)  # its next check (0.5 s later) passes
        await engines["engine-1"].stop()  # really down now: after the wait, the answer is no
        await admin.command("set server engines/engine-1 health down")
        started = asyncio.get_running_loop().time()
        assert not await controller._another_up(second, wait_s=1.5)
        assert asyncio.get_running_loop().time() - started >= 1.5
    await engines["engine-2"].stop()
