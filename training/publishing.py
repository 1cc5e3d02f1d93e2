"""Publishing a trained model: into the store, the pointer moved to it, and the engines' rollout awaited.

The rollout itself is the controller's, beside the engines (assistant/rollout.py): it claims the pending
rollout, switches the engines one at a time and records each switch. Here we only wait for its verdict.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from training.model_store import ModelStore, StoredModel
from training.trainer import TrainingResult, lineage_of


class RolloutFailed(Exception):
    pass


async def store_model(store: ModelStore, result: TrainingResult) -> StoredModel:
    return await store.put(result.model, result.fingerprint, lineage_of(result.model))


async def seed(store: ModelStore, model: Path, set_by: str, *, replace: bool) -> None:
    """Stores a model found on disk and points at it without a rollout, for engines about to start: always
    (`replace`, the launcher: it trained for the current data) or only when nothing is pointed at yet (a
    container's console, with the model its image was built with; staff's later publishes win)."""
    if not replace and await store.pointer() is not None:
        return
    await store.put(model, model.name.removeprefix("model-").removesuffix(".tar.gz"), lineage_of(model))
    await store.point(model.name, set_by, queue_rollout=False)


async def publish(
    store: ModelStore,
    result: TrainingResult,
    set_by: str,
    *,
    run_id: int | None = None,
    claim_timeout_s: float = 60.0,
    timeout_s: float = 900.0,
) -> None:
    """Stores the model, points the engines at it and waits until every engine serves it. Raises
    RolloutFailed when an engine could not load it (the engines are back on the old model, the pointer too),
    or when no controller took the rollout within `claim_timeout_s` (the pointer stays: engines started from
    now on load the new model)."""
    await store_model(store, result)
    rollout_id = await store.point(result.model.name, set_by, run_id)
    if rollout_id is None:
        return  # already the pointer's model: the engines serve it, or their rollout is under way
    started = time.monotonic()
    while True:
        rollout = await store.rollout(rollout_id)
        assert rollout is not None
        waited = time.monotonic() - started
        if rollout.status == "done":
            return
        if rollout.status in ("failed", "superseded"):
            raise RolloutFailed(rollout.error or f"the rollout was {rollout.status}")
        if rollout.status == "pending" and waited > claim_timeout_s:
            raise RolloutFailed(
                f"no rollout controller took the new model in {claim_timeout_s:.0f} s; the pointer names it, so "
                "engines load it when they start"
            )
        if waited > timeout_s:
            raise RolloutFailed(f"the rollout did not end in {timeout_s:.0f} s")
        await asyncio.sleep(0.5)
