"""Retraining in the background after staff change question variants, then the new model rolled out to the engines.

Requests are queued as `TrainingRun` rows and coalesced: whatever was requested while a run was going is
served by the next single run. Data is validated before training; a failed validation, training or rollout
marks the run failed with the reason, and the engines keep serving the model they had.

A publish asks for a quick update: the served model fine-tuned on the new data (training.trainer,
`can_finetune` says when that is allowed). The console's "Retrain from scratch" asks for a whole training;
a batch that holds one such request is trained from scratch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.settings import Settings
from core.tasks import cancel_and_wait
from knowledge.models import TrainingRun
from knowledge.store import KnowledgeBase
from training.model_store import ModelStore
from training.trainer import TrainingResult, ensure_model, validate_data

log = logging.getLogger(__name__)
# Puts a trained model in service (training/publishing.py); the int is the run's id.
Reload = Callable[[TrainingResult, int], Awaitable[None]]
Served = Callable[[], Awaitable[str | None]]  # the file name of the model the engines serve, if known


class Build(Protocol):
    """Validates the data and returns the model for it (training from scratch with `force`, fine-tuning
    `base` when allowed); raises when the data is invalid or the training fails."""

    async def __call__(
        self, settings: Settings, kb: KnowledgeBase, *, force: bool, base: Path | None
    ) -> TrainingResult: ...


async def validated_model(settings: Settings, kb: KnowledgeBase, *, force: bool, base: Path | None) -> TrainingResult:
    if await validate_data(settings, kb) != 0:
        raise RuntimeError("the training data is invalid:\n" + _log_tail(settings.data_dir / "logs" / "validate.log"))
    return await ensure_model(settings, kb, force=force, base=base)


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    useful = [line for line in text if "Deprecat" not in line and "declare_namespace" not in line]
    return "\n".join(useful[-lines:])


class Retrainer:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker,
        reload: Reload,
        served: Served,
        build: Build = validated_model,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._kb = KnowledgeBase(sessions)
        self._reload = reload
        self._served = served
        self._build = build
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # Held by the worker over its short database steps: stop() waits for one to end before cancelling, so a
        # query is never cancelled half-way (the pool would log its interrupted rollback as an error).
        self._db_step = asyncio.Lock()

    async def start(self) -> None:
        # Runs left "running" by a process that died are failed, queued ones are picked up.
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TrainingRun)
                .where(TrainingRun.status == "running")
                .values(status="failed", error="interrupted: the console stopped during the run")
            )
        self._task = asyncio.create_task(self._worker())
        self._wake.set()

    async def stop(self) -> None:
        async with self._db_step:
            await cancel_and_wait(self._task)

    async def request(self, requested_by: str, *, full: bool = False) -> int:
        """Queues a run: a quick update when possible, or with `full` a training from scratch."""
        async with self._sessions() as session, session.begin():
            run = TrainingRun(status="queued", requested_by=requested_by, full=full)
            session.add(run)
            await session.flush()
            run_id = run.id
        self._wake.set()
        return run_id

    async def runs(self, limit: int = 20) -> list[TrainingRun]:
        async with self._sessions() as session:
            return list((await session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))).all())

    async def wait_idle(self, timeout_s: float) -> None:
        """For tests and the CLI: waits until no run is queued or running."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            async with self._sessions() as session:
                busy = await session.scalar(
                    select(TrainingRun.id).where(TrainingRun.status.in_(("queued", "running"))).limit(1)
                )
            if busy is None:
                return
            await asyncio.sleep(0.5)
        raise TimeoutError("training did not finish in time")

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._run_pending()
            except Exception:  # whatever failed, the worker must survive to serve the next request (logged)
                log.exception("retraining worker failed")

    async def _run_pending(self) -> None:
        async with self._db_step, self._sessions() as session, session.begin():
            queued = (await session.scalars(select(TrainingRun).where(TrainingRun.status == "queued"))).all()
            if not queued:
                return
            ids = [run.id for run in queued]
            full = any(run.full for run in queued)
            for run in queued:
                run.status = "running"
        started = time.monotonic()
        model, finetuned_from, reloaded, error = None, None, False, None
        try:
            result = await self._build(self._settings, self._kb, force=full, base=None if full else await self._base())
            model, finetuned_from = result.model.name, result.finetuned_from
            await self._reload(result, ids[-1])
            reloaded = True
        except Exception as failure:  # noqa: BLE001 - any failure is a failed run staff see; the old model serves on
            error = str(failure) or type(failure).__name__
            if "training failed" in error:
                error += "\n" + _log_tail(self._settings.data_dir / "logs" / "train.log")
            log.error("retraining failed: %s", error.splitlines()[0])
        async with self._db_step, self._sessions() as session, session.begin():
            await session.execute(
                update(TrainingRun)
                .where(TrainingRun.id.in_(ids))
                .values(
                    status="failed" if error else "succeeded",
                    model=model,
                    finetuned_from=finetuned_from,
                    reloaded=reloaded,
                    seconds=round(time.monotonic() - started, 1),
                    error=error,
                    finished_at=dt.datetime.now(dt.UTC),
                )
            )
        log.info(
            "retraining %s in %.0f s (model %s%s)",
            "failed" if error else "succeeded",
            time.monotonic() - started,
            model,
            f", fine-tuned from {finetuned_from}" if finetuned_from else "",
        )

    async def _base(self) -> Path | None:
        """The model to fine-tune: the one the engines serve, from our models folder or else the model store."""
        try:
            name = await self._served()
        except Exception:  # whatever the trouble, not knowing only means a training from scratch (logged)
            log.warning("could not tell which model the engines serve", exc_info=True)
            return None
        if not name:
            return None
        path = self._settings.models_dir / name
        if path.is_file():
            return path
        try:
            return await ModelStore(self._sessions).fetch(name, self._settings.models_dir)
        except (OSError, ValueError):
            log.warning("could not fetch %s from the model store", name, exc_info=True)
            return None
