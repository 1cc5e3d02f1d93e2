"""The model store: every trained model's archive and lineage, once per fingerprint, in the configured database
(SQLite embedded, PostgreSQL at scale), and the pointer to the model the engines should serve.

Engines reach it without a shared disk: the console serves the pointer's archive over HTTP in the shape of
Rasa's model server (console/model_server.py), so an engine started anywhere loads what the pointer names.
Moving the pointer queues a `Rollout`, which the controller beside the engines carries out
(assistant/rollout.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from training.tables import EngineSwitch, ModelArchive, ModelChunk, ModelPointer, Rollout

CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class StoredModel:
    name: str
    fingerprint: str
    sha256: str
    size: int
    lineage: dict


@dataclass(frozen=True)
class RolloutView:
    """A rollout and its engines' switches, for the console's Training page."""

    rollout: Rollout
    switches: list[EngineSwitch]


def _stored(row: ModelArchive) -> StoredModel:
    try:
        lineage = json.loads(row.lineage or "{}")
    except ValueError:
        lineage = {}
    return StoredModel(row.name, row.fingerprint, row.sha256, row.size, lineage if isinstance(lineage, dict) else {})


class ModelStore:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def put(self, archive: Path, fingerprint: str, lineage: dict) -> StoredModel:
        """Stores `archive` under its file name, unless a complete copy is there already (one per fingerprint)."""
        existing = await self.get(archive.name)
        if existing is not None:
            return existing
        digest, size = hashlib.sha256(), 0
        async with self._sessions() as session, session.begin():
            row = ModelArchive(
                name=archive.name,
                fingerprint=fingerprint,
                sha256="",
                size=0,
                lineage=json.dumps(lineage),
                created_at=dt.datetime.now(dt.UTC),  # to the microsecond: pruning goes by it
            )
            session.add(row)
            await session.flush()
            with archive.open("rb") as file:
                seq = 0
                while chunk := file.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
                    session.add(ModelChunk(name=archive.name, seq=seq, data=chunk))
                    await session.flush()
                    seq += 1
            # Written last, in the same transaction: a half-stored archive is never seen.
            row.sha256, row.size = digest.hexdigest(), size
        return StoredModel(archive.name, fingerprint, digest.hexdigest(), size, lineage)

    async def get(self, name: str) -> StoredModel | None:
        async with self._sessions() as session:
            row = await session.get(ModelArchive, name)
            return _stored(row) if row is not None else None

    async def chunks(self, name: str) -> AsyncIterator[bytes]:
        """The archive's bytes, a chunk at a time (one short query each: no transaction held while sending)."""
        seq = 0
        while True:
            async with self._sessions() as session:
                data = await session.scalar(
                    select(ModelChunk.data).where(ModelChunk.name == name, ModelChunk.seq == seq)
                )
            if data is None:
                return
            yield data
            seq += 1

    async def fetch(self, name: str, folder: Path) -> Path | None:
        """The archive as a local file in `folder` (written there from the store when missing), checked against
        its SHA-256; None when the store does not have it."""
        stored = await self.get(name)
        if stored is None:
            return None
        target = folder / name
        if target.is_file() and target.stat().st_size == stored.size:
            return target
        folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - local file steps between the chunks' queries
        digest = hashlib.sha256()
        descriptor, scratch = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as file:
                async for chunk in self.chunks(name):
                    digest.update(chunk)
                    file.write(chunk)
            if digest.hexdigest() != stored.sha256:
                raise ValueError(f"model {name}: the stored archive does not match its SHA-256")
            lineage = folder / (name.removesuffix(".tar.gz") + ".lineage.json")
            if not lineage.exists():
                lineage.write_text(json.dumps(stored.lineage))
            os.replace(scratch, target)
        finally:
            Path(scratch).unlink(missing_ok=True)  # noqa: ASYNC240
        return target

    async def pointer(self) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(select(ModelPointer.name).where(ModelPointer.id == 1))

    async def point(
        self, name: str, set_by: str, run_id: int | None = None, *, queue_rollout: bool = True
    ) -> int | None:
        """Points the engines at `name` (which must be stored) and queues the rollout (unless the engines are
        about to start on it); None when the pointer already names it or no rollout was queued. Earlier
        rollouts still pending are superseded: the engines go straight to the newest."""
        async with self._sessions() as session, session.begin():
            if await session.get(ModelArchive, name) is None:
                raise KeyError(f"model {name} is not in the store")
            current = await session.get(ModelPointer, 1, with_for_update=True)
            if current is not None and current.name == name:
                return None
            # What the engines serve: the pointer, unless a rollout to it never started (then what that one
            # was to move them from).
            serving = await session.scalar(
                select(Rollout.from_model).where(Rollout.status == "pending").order_by(Rollout.id).limit(1)
            ) or (current.name if current else None)
            if current is None:
                session.add(ModelPointer(id=1, name=name, set_by=set_by))
            else:
                current.name, current.set_by, current.set_at = name, set_by, dt.datetime.now(dt.UTC)
            await session.execute(
                update(Rollout)
                .where(Rollout.status == "pending")
                .values(status="superseded", finished_at=dt.datetime.now(dt.UTC))
            )
            if not queue_rollout:
                return None
            rollout = Rollout(run_id=run_id, from_model=serving, to_model=name)
            session.add(rollout)
            await session.flush()
            return rollout.id

    async def rollout(self, rollout_id: int) -> Rollout | None:
        async with self._sessions() as session:
            return await session.get(Rollout, rollout_id)

    async def recent(self, limit: int = 10) -> list[RolloutView]:
        async with self._sessions() as session:
            rollouts = (await session.scalars(select(Rollout).order_by(Rollout.id.desc()).limit(limit))).all()
            switches = (
                await session.scalars(
                    select(EngineSwitch)
                    .where(EngineSwitch.rollout_id.in_([r.id for r in rollouts]))
                    .order_by(EngineSwitch.id)
                )
            ).all()
        return [RolloutView(r, [s for s in switches if s.rollout_id == r.id]) for r in rollouts]

    async def prune(self, keep: int = 5) -> int:
        """Deletes all but the `keep` newest archives, never the pointer's; how many went."""
        async with self._sessions() as session, session.begin():
            pointed = await session.scalar(select(ModelPointer.name).where(ModelPointer.id == 1))
            names = (await session.scalars(select(ModelArchive.name).order_by(ModelArchive.created_at.desc()))).all()
            doomed = [n for n in names[keep:] if n != pointed]
            if doomed:
                await session.execute(delete(ModelChunk).where(ModelChunk.name.in_(doomed)))
                await session.execute(delete(ModelArchive).where(ModelArchive.name.in_(doomed)))
        return len(doomed)

    # The controller's side (assistant/rollout.py).

    async def claim(self) -> Rollout | None:
        """The pending rollout, now marked rolling; None when there is none (or another controller took it)."""
        async with self._sessions() as session, session.begin():
            pending = await session.scalar(
                select(Rollout).where(Rollout.status == "pending").order_by(Rollout.id.desc()).limit(1)
            )
            if pending is None:
                return None
            taken = await session.execute(
                update(Rollout).where(Rollout.id == pending.id, Rollout.status == "pending").values(status="rolling")
            )
            return pending if taken.rowcount == 1 else None

    async def finish(self, rollout_id: int, status: str, error: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Rollout)
                .where(Rollout.id == rollout_id)
                .values(status=status, error=error, finished_at=dt.datetime.now(dt.UTC))
            )

    async def restore_pointer(self, name: str, *, only_from: str) -> bool:
        """Puts the pointer back on `name` after a failed rollout to `only_from`, without queuing another one;
        False, and nothing changed, when the pointer has moved on since (a newer publish wins)."""
        async with self._sessions() as session, session.begin():
            moved = await session.execute(
                update(ModelPointer)
                .where(ModelPointer.id == 1, ModelPointer.name == only_from)
                .values(name=name, set_by="rollback", set_at=dt.datetime.now(dt.UTC))
            )
            return moved.rowcount == 1

    async def abandon_rolling(self) -> int:
        """Rollouts left rolling by a controller that stopped or died: failed (a new controller starts)."""
        async with self._sessions() as session, session.begin():
            stale = await session.execute(
                update(Rollout)
                .where(Rollout.status == "rolling")
                .values(status="failed", error="the controller stopped mid-way", finished_at=dt.datetime.now(dt.UTC))
            )
            return stale.rowcount

    async def switch_started(self, rollout_id: int, engine: str, to_model: str, how: str) -> int:
        async with self._sessions() as session, session.begin():
            switch = EngineSwitch(rollout_id=rollout_id, engine=engine, to_model=to_model, how=how)
            session.add(switch)
            await session.flush()
            return switch.id

    async def switch_ended(self, switch_id: int, status: str, error: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(EngineSwitch)
                .where(EngineSwitch.id == switch_id)
                .values(status=status, error=error, finished_at=dt.datetime.now(dt.UTC))
            )
