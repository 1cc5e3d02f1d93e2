"""`python -m assistant serve follower`: beside each engine in Kubernetes (a second container of the engine's
pod), it moves that engine to the model store's pointer when the pointer moves, with Kubernetes' readiness
keeping messages away meanwhile:

1. it sees the pointer name a model its engine does not serve (every `follow_every_s`);
2. it takes the cluster-wide rollout lock (a PostgreSQL advisory lock), so engines switch one at a time;
3. it answers 503 on its readiness endpoint and waits `follow_drain_s`, long enough for Kubernetes to take
   the pod out of the Service and for the turns under way to end;
4. it has its engine load the pointer's model (`PUT /model` on loopback), checks it, becomes ready again,
   waits for Kubernetes to see that, and lets the next engine go.

Each switch is recorded against the pointer's rollout (the console's Training page shows it), and so is a pod
that starts on the new model; the follower that completes the count of `follow_engines` (the Deployment's
replicas) marks the rollout done. A failed load keeps the engine on its
model, marks the rollout failed and puts the pointer back, so the engines that switched already follow it
back. The launcher's HAProxy and docker-compose's balancer do the same with their own controller
(assistant/rollout.py); this is Kubernetes' way, where the Service is the balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import distinct, func, select, text, update

from core.bootstrap import Database, open_database
from core.periodic import Periodic
from core.settings import Settings
from training.engine_admin import ReloadFailed, engine_state, load_pointer, loaded_model
from training.model_store import ModelStore
from training.tables import EngineSwitch, Rollout

log = logging.getLogger(__name__)
LOCK_KEY = 0x6D6F64656C  # "model": the advisory lock every follower of the cluster takes to switch


class Follower:
    def __init__(self, settings: Settings, database: Database, engine_url: str, name: str) -> None:
        self._settings, self._database, self._engine_url, self.name = settings, database, engine_url, name
        self._store = ModelStore(database.sessions)
        assert settings.engine_api_token is not None
        self._token = settings.engine_api_token.get_secret_value()
        self.switching = False
        self._watch = Periodic("model follower", self.follow_once, settings.follow_every_s)

    async def ready(self) -> bool:
        return not self.switching and await loaded_model(self._engine_url, self._token) is not None

    def start(self) -> None:
        self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    async def follow_once(self) -> bool:
        """Moves the engine to the pointer if it serves another model; whether it switched."""
        pointer = await self._store.pointer()
        answers, served = await engine_state(self._engine_url, self._token)
        if pointer is None or not answers:
            return False
        if served == pointer:
            await self._count_as_serving(pointer)
            return False
        if served is None:  # it started while the model store was unreachable: unready anyway, load at once
            log.warning("%s serves no model: loading %s", self.name, pointer)
            await load_pointer(self._engine_url, self._token)
            return True
        async with self._rollout_lock():
            pointer = await self._store.pointer()  # it may have moved back while we waited for our turn
            if pointer is None or await loaded_model(self._engine_url, self._token) == pointer:
                return False
            rollout = await self._rollout_to(pointer)
            switch = await self._store.switch_started(rollout, self.name, pointer, "drained") if rollout else None
            self.switching = True
            try:
                await asyncio.sleep(self._settings.follow_drain_s)  # Kubernetes takes the pod out meanwhile
                await load_pointer(self._engine_url, self._token)
                if (now := await loaded_model(self._engine_url, self._token)) != pointer:
                    raise ReloadFailed(f"it serves {now} after the load")
            except ReloadFailed as failure:
                log.error("%s could not load %s: %s", self.name, pointer, failure)
                if rollout is not None and switch is not None:
                    await self._store.switch_ended(switch, "failed", str(failure))
                    await self._fail(rollout, f"{self.name} could not load {pointer}: {failure}")
                return False
            finally:
                self.switching = False
            if rollout is not None and switch is not None:
                await self._store.switch_ended(switch, "serving")
                await self._done_if_all(rollout)
            await asyncio.sleep(self._settings.follow_drain_s)  # back in the Service before the next one goes
            log.info("%s now serves %s", self.name, pointer)
            return True

    async def _count_as_serving(self, model: str) -> None:
        """An engine that started on the rollout's model (a new or restarted pod) is counted too, once."""
        rollout = await self._rollout_to(model)
        if rollout is None:
            return
        async with self._database.sessions() as session:
            counted = await session.scalar(
                select(EngineSwitch.id).where(EngineSwitch.rollout_id == rollout, EngineSwitch.engine == self.name)
            )
        if counted is None:
            await self._store.switch_ended(
                await self._store.switch_started(rollout, self.name, model, "started on it"), "serving"
            )
            await self._done_if_all(rollout)

    @contextlib.asynccontextmanager
    async def _rollout_lock(self) -> AsyncIterator[None]:
        """One engine of the cluster at a time: PostgreSQL's session advisory lock, held on a connection of its
        own until the switch is over (SQLite: one machine, one follower at a time already)."""
        engine = self._database.engine
        if engine.dialect.name != "postgresql":
            yield
            return
        # Autocommit: no transaction stays open while the lock is held (a server's idle-in-transaction timeout
        # would end the session, and the lock with it, mid-switch).
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})

    async def _rollout_to(self, model: str) -> int | None:
        """The rollout under way to `model`; None when there is none (following the pointer back after a
        failed rollout, or a pointer moved without one)."""
        async with self._database.sessions() as session, session.begin():
            rollout = await session.scalar(
                select(Rollout)
                .where(Rollout.to_model == model, Rollout.status.in_(("pending", "rolling")))
                .order_by(Rollout.id.desc())
                .limit(1)
            )
            if rollout is None:
                return None
            await session.execute(
                update(Rollout).where(Rollout.id == rollout.id, Rollout.status == "pending").values(status="rolling")
            )
            return rollout.id

    async def _done_if_all(self, rollout_id: int) -> None:
        async with self._database.sessions() as session:
            serving = await session.scalar(
                select(func.count(distinct(EngineSwitch.engine))).where(
                    EngineSwitch.rollout_id == rollout_id, EngineSwitch.status == "serving"
                )
            )
        if (serving or 0) >= self._settings.follow_engines:
            await self._store.finish(rollout_id, "done")

    async def _fail(self, rollout_id: int, error: str) -> None:
        rollout = await self._store.rollout(rollout_id)
        if rollout is None:
            return
        await self._store.finish(rollout_id, "failed", error)
        if rollout.from_model is not None:
            await self._store.restore_pointer(rollout.from_model, only_from=rollout.to_model)
        async with self._database.sessions() as session, session.begin():
            await session.execute(
                update(EngineSwitch)
                .where(EngineSwitch.rollout_id == rollout_id, EngineSwitch.status == "serving")
                .values(status="rolled back")
            )


async def serve(settings: Settings) -> int:
    if settings.engine_api_token is None:
        log.error("the follower needs ASSISTANT_ENGINE_API_TOKEN")
        return 2
    database = await open_database(settings)
    name = os.environ.get("HOSTNAME") or socket.gethostname()  # the pod's name
    follower = Follower(settings, database, f"http://127.0.0.1:{settings.engine_port}", name)

    async def readiness(request: web.Request) -> web.Response:
        return web.Response(status=200 if await follower.ready() else 503)

    app = web.Application()
    app.router.add_get("/ready", readiness)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", settings.follower_port).start()  # the kubelet asks /ready from outside
    follower.start()
    try:
        await asyncio.Event().wait()
    finally:
        await follower.stop()
        await runner.cleanup()
        await database.close()
    return 0
