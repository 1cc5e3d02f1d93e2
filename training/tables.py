"""The model store's tables: trained models' archives and lineage, the pointer to the model to serve, and
each rollout of a new pointer to the engines (training/model_store.py, assistant/rollout.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ModelArchive(Base):
    """A trained model, once per fingerprint: its `.tar.gz` is in `ModelChunk` rows."""

    __tablename__ = "model_archives"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # the archive's file name
    fingerprint: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    lineage: Mapped[str] = mapped_column(Text, default="{}")  # JSON: structure, finetunes, base
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ModelChunk(Base):
    """A slice of an archive: rows of a few MiB stay well inside every database's limits and memory."""

    __tablename__ = "model_chunks"

    name: Mapped[str] = mapped_column(ForeignKey("model_archives.name", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ModelPointer(Base):
    """The one model every engine should serve (a single row, id 1)."""

    __tablename__ = "model_pointer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("model_archives.name"))
    set_by: Mapped[str] = mapped_column(String(80))  # "training run 12", "launcher", "rollback"
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Rollout(Base):
    """Moving the engines to a new pointer: pending until a controller claims it, then done or failed."""

    __tablename__ = "model_rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)  # the training run that asked for it, if any
    from_model: Mapped[str | None] = mapped_column(String(200))
    to_model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|rolling|done|failed|superseded
    error: Mapped[str | None] = mapped_column(Text)
    # Set here, to the microsecond (SQLite's now() has whole seconds): rollouts are timed by it.
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=lambda: dt.datetime.now(dt.UTC)
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EngineSwitch(Base):
    """One engine's move in a rollout, with when it started and ended."""

    __tablename__ = "model_engine_switches"

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("model_rollouts.id", ondelete="CASCADE"), index=True)
    engine: Mapped[str] = mapped_column(String(40))
    to_model: Mapped[str] = mapped_column(String(200))
    # loading|serving|failed (kept the old model)|rolled back (was on the new one, back on the old)
    status: Mapped[str] = mapped_column(String(20), default="loading")
    how: Mapped[str] = mapped_column(String(20))  # drained | blue/green | in place
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=lambda: dt.datetime.now(dt.UTC)
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
