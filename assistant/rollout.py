"""The rollout controller: moves the engines to the model store's pointer, one engine at a time, so that no
reply waits on a model load.

It runs beside the engines (in the launcher), claims each rollout the pointer queues (training/model_store.py)
and records every engine's switch for the console's Training page.
- Several engines: each in turn is drained in HAProxy (no new requests; those under way finish), loads the
  pointer's model with Rasa's `PUT /model` (the engine pulls it from the store), and takes requests again.
- One engine: blue/green. A second engine starts on the new model beside it (HAProxy's other slot, blue or
  green); once it answers, HAProxy sends it the traffic and the old one drains and stops. When memory is
  short for two, the one engine loads in place, and replies wait on the load meanwhile (logged).
- A failed load leaves that engine on its old model; the engines already switched go back to the old model,
  and so does the pointer: every engine serves the same model, and the run is reported failed.
- A newer publish during a rollout supersedes it: the rollout stops where it is (no rollback) and the newer
  one moves every engine on. An engine that must be drained while no other is up loads in place.

Why not Rasa's own pull (`wait_time_between_pulls`): the engine loads the pulled model in the event loop
that serves messages, like `PUT /model`, so every engine would stall while it loads, and at a moment nobody
chooses; nothing can take its traffic away first (docs/benchmarks.md, rollout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from assistant.haproxy import HAProxyAdmin
from core.periodic import Periodic
from core.tasks import within
from training.engine_admin import ReloadFailed, engine_state, load_pointer, loaded_model
from training.model_store import ModelStore
from training.tables import Rollout

log = logging.getLogger(__name__)
BACKEND = "engines"
OTHERS_UP_WAIT_S = 15.0  # a just-loaded engine is UP at HAProxy's next check (every 0.5 s while down)


@dataclass(frozen=True)
class EngineSlot:
    name: str  # the service's name (engine, engine-1, …)
    server: str  # its server in HAProxy's engines backend
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Superseded(Exception):
    """The pointer moved on during a rollout: a newer publish's rollout takes over."""


class Fleet(Protocol):
    """The engines the controller moves (the launcher's stack)."""

    def engine_slots(self) -> list[EngineSlot]: ...

    def room_for_twin(self) -> bool: ...

    async def start_twin(self, slot: EngineSlot) -> EngineSlot:
        """A second engine like `slot` on a new port and HAProxy's other slot (blue, green), started on the pointer's
        model and ready; raises when it does not start."""
        ...

    async def retire(self, slot: EngineSlot) -> None: ...


class RolloutController:
    def __init__(
        self,
        store: ModelStore,
        fleet: Fleet,
        admin: HAProxyAdmin | None,
        token: str,
        *,
        poll_s: float = 1.0,
        drain_timeout_s: float = 30.0,
    ) -> None:
        self._store, self._fleet, self._admin, self._token = store, fleet, admin, token
        self._drain_timeout_s = drain_timeout_s
        self._watch = Periodic("rollout controller", self._claim_and_carry_out, poll_s)
        self._started = False
        self._store_down = False

    def start(self) -> None:
        self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    async def _claim_and_carry_out(self) -> None:
        if not self._started:
            self._started = True
            if stale := await self._store.abandon_rolling():
                log.warning("%d rollout(s) left rolling by a stopped controller marked failed", stale)
        try:
            rollout = await self._store.claim()
        except (OSError, SQLAlchemyError) as error:  # the database restarting: rollouts wait, one line said
            if not self._store_down:
                log.warning("model store unreachable (%s): rollouts wait until it is back", type(error).__name__)
            self._store_down = True
            return
        self._store_down = False
        if rollout is not None:
            await self.carry_out(rollout)
        else:
            await self.heal()

    async def heal(self) -> None:
        """Loads the pointer's model into an engine that answers without one (it started while the model
        store was unreachable); out of HAProxy's rotation already, as its health check fails."""
        for slot in self._fleet.engine_slots():
            answers, model = await engine_state(slot.url, self._token)
            if answers and model is None:
                log.warning("%s serves no model: loading the pointer's", slot.name)
                try:
                    await load_pointer(slot.url, self._token)
                except ReloadFailed as failure:
                    log.error("%s could not load the pointer's model: %s", slot.name, failure)

    async def carry_out(self, rollout: Rollout) -> None:
        started = time.monotonic()
        slots = self._fleet.engine_slots()
        try:
            if len(slots) == 1 and self._admin is not None and self._fleet.room_for_twin():
                error = await self._blue_green(rollout, slots[0])
            else:
                if len(slots) == 1:
                    log.warning("no room for a second engine: %s loads in place, replies wait", rollout.to_model)
                error = await self._one_at_a_time(rollout, slots)
        except Superseded:
            # A newer publish moved the pointer: its own rollout moves every engine on, from wherever it is.
            await self._store.finish(rollout.id, "superseded", "a newer model was published during the rollout")
            log.info("rollout of %s superseded by a newer publish", rollout.to_model)
            return
        except BaseException as failure:  # HAProxy, the database or a stop mid-way: reported, never left rolling
            if not isinstance(failure, Exception):
                await asyncio.shield(self._store.finish(rollout.id, "failed", "the controller stopped mid-way"))
                raise
            log.exception("rollout of %s stopped", rollout.to_model)
            error = f"the rollout stopped: {type(failure).__name__}: {failure}"
        if error is not None and rollout.from_model is not None:
            await self._store.restore_pointer(rollout.from_model, only_from=rollout.to_model)
        await self._store.finish(rollout.id, "failed" if error else "done", error)
        log.info(
            "rollout of %s %s in %.1f s%s",
            rollout.to_model,
            "failed" if error else "done",
            time.monotonic() - started,
            f": {error}" if error else "",
        )

    async def _still_pointed(self, model: str) -> None:
        if await self._store.pointer() != model:
            raise Superseded

    async def _one_at_a_time(self, rollout: Rollout, slots: list[EngineSlot]) -> str | None:
        drain = len(slots) > 1 and self._admin is not None
        switched: list[tuple[EngineSlot, int]] = []
        for slot in slots:
            await self._still_pointed(rollout.to_model)
            if await loaded_model(slot.url, self._token) == rollout.to_model:
                continue
            others_up = drain and await self._another_up(slot)
            if drain and not others_up:
                log.warning("%s is the only engine up: it loads in place, replies wait", slot.name)
            switch = await self._store.switch_started(
                rollout.id, slot.name, rollout.to_model, "drained" if others_up else "in place"
            )
            try:
                await self._load(slot, rollout.to_model, others_up)
            except ReloadFailed as failure:
                await self._store.switch_ended(switch, "failed", str(failure))
                await self._still_pointed(rollout.to_model)  # the pointer moved on: not this model's failure
                await self._roll_back(rollout, switched)
                return f"{slot.name} could not load {rollout.to_model}: {failure}"
            await self._store.switch_ended(switch, "serving")
            switched.append((slot, switch))
        return None

    async def _another_up(self, slot: EngineSlot, wait_s: float = OTHERS_UP_WAIT_S) -> bool:
        """Whether another engine takes the traffic while this one loads. An engine just put back after its
        own load may still be DOWN in HAProxy (its health checks failed while it loaded, and the next one
        has not come yet): it is waited for, up to `wait_s`, rather than load this one in place."""

        async def others_up() -> bool:
            rows = await self._haproxy.stats(BACKEND)
            return any(name != slot.server and row["status"] == "UP" for name, row in rows.items())

        return await within(wait_s, 0.25, others_up)

    async def _load(self, slot: EngineSlot, model: str | None, drain: bool) -> None:
        """Loads the pointer's model into one engine, out of HAProxy's rotation meanwhile when `drain`."""
        try:
            if drain:
                await self._haproxy.set_state(BACKEND, slot.server, "drain")
                await self._wait_idle(slot)
            await load_pointer(slot.url, self._token)
            serving = await loaded_model(slot.url, self._token)
            if model is not None and serving != model:
                raise ReloadFailed(f"it serves {serving} after the load")
        finally:
            if drain:
                await self._haproxy.set_state(BACKEND, slot.server, "ready")

    async def _roll_back(self, rollout: Rollout, switched: list[tuple[EngineSlot, int]]) -> None:
        if rollout.from_model is None or not switched:
            return
        if not await self._store.restore_pointer(rollout.from_model, only_from=rollout.to_model):
            raise Superseded
        for slot, switch in switched:
            try:
                await self._load(slot, rollout.from_model, drain=True)
                await self._store.switch_ended(switch, "rolled back")
            except ReloadFailed as failure:
                log.error("%s could not go back to %s: %s", slot.name, rollout.from_model, failure)
                await self._store.switch_ended(switch, "failed", f"rolling back: {failure}")

    async def _blue_green(self, rollout: Rollout, old: EngineSlot) -> str | None:
        await self._still_pointed(rollout.to_model)
        if await loaded_model(old.url, self._token) == rollout.to_model:
            return None
        switch = await self._store.switch_started(rollout.id, old.name, rollout.to_model, "blue/green")
        try:
            new = await self._fleet.start_twin(old)
        except Exception as failure:  # noqa: BLE001 - any failure to start leaves the old engine serving
            await self._store.switch_ended(switch, "failed", str(failure))
            return f"the new engine did not start on {rollout.to_model}: {failure}"
        serving = await loaded_model(new.url, self._token)
        if serving != rollout.to_model:
            await self._fleet.retire(new)
            await self._store.switch_ended(switch, "failed", f"the new engine serves {serving}")
            await self._still_pointed(rollout.to_model)  # it started on a newer publish's model
            return f"the new engine serves {serving}, not {rollout.to_model}"
        try:
            await self._haproxy.set_address(BACKEND, new.server, new.port)
            await self._haproxy.set_state(BACKEND, new.server, "ready")
            await self._wait_up(new)
            await self._haproxy.set_state(BACKEND, old.server, "drain")
            await self._wait_idle(old)
            await self._haproxy.set_state(BACKEND, old.server, "maint")
        except Exception as failure:  # noqa: BLE001 - whatever went wrong, the old engine takes the traffic again
            reason = f"switching in HAProxy: {failure}"
            for undo in (
                lambda: self._haproxy.set_state(BACKEND, old.server, "ready"),
                lambda: self._haproxy.set_state(BACKEND, new.server, "maint"),
                lambda: self._fleet.retire(new),
                lambda: self._store.switch_ended(switch, "failed", reason),
            ):
                try:
                    await undo()
                except Exception:  # each step on its own: one failing must not skip the others (logged)
                    log.exception("undoing a blue/green switch")
            return f"switching to the new engine failed: {failure}"
        await self._fleet.retire(old)
        await self._store.switch_ended(switch, "serving")
        return None

    @property
    def _haproxy(self) -> HAProxyAdmin:
        assert self._admin is not None, "draining and blue/green need HAProxy"
        return self._admin

    async def _wait_idle(self, slot: EngineSlot) -> None:
        """Until the engine has no request under way (a conversation's turn runs to its end there)."""

        async def idle() -> bool:  # HAProxy tells nothing by itself: it is asked (the runtime API answers in µs)
            return not await self._haproxy.in_progress(BACKEND, slot.server)

        if not await within(self._drain_timeout_s, 0.05, idle):
            log.warning("%s still has requests after %.0f s of draining; loading", slot.name, self._drain_timeout_s)

    async def _wait_up(self, slot: EngineSlot, timeout_s: float = 15.0) -> None:

        async def up() -> bool:
            return await self._haproxy.status(BACKEND, slot.server) == "UP"

        if not await within(timeout_s, 0.1, up):
            raise TimeoutError(f"HAProxy did not see {slot.name} up in {timeout_s:.0f} s")
