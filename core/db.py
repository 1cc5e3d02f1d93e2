"""SQLAlchemy plumbing shared by every package: one declarative base and the engine factory.

SQLite (the embedded default) gets WAL and a busy timeout, because the gateway and the action server
write to the same file from two processes. PostgreSQL needs nothing special.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from core.private_files import private_file


class Base(DeclarativeBase):
    pass


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored DateTime(timezone=True) as an aware UTC time: SQLite hands it back without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_file(Path(path))
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
