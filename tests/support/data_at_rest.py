"""Reading what lies on disk as an attacker who copied the files would (plain sqlite3, the raw bytes), for the
tests of data at rest: the personal data they store, and the checks that none of it is in clear and that every
file is private."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from pathlib import Path

from cases.client import ApplicationStatus, Found, NotFound

CHAT = 424242427
PASSPORT, PHONE, FIN = "C01234567", "+994 50 312 45 67", "5ZK2L9B"
ACCESS_TOKEN = "tok_4b1d9e7c2a5f8e3d6c9b0a1f"


def raw_cells(database: Path) -> list[object]:
    """Every value of every table, read with plain sqlite3, not through our code."""
    with sqlite3.connect(database) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [cell for table in tables for row in connection.execute(f'SELECT * FROM "{table}"') for cell in row]


def raw_bytes(data_dir: Path) -> bytes:
    """The database's files as they lie on disk, the write-ahead log included."""
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob("assistant.db*")))


def assert_nothing_in_clear(data_dir: Path, *secrets: str, chat_ids: tuple[int, ...] = (CHAT,)) -> None:
    cells = raw_cells(data_dir / "assistant.db")
    texts = [str(cell) for cell in cells]
    on_disk = raw_bytes(data_dir)
    for secret in secrets:
        assert not [t for t in texts if secret in t], f"{secret!r} stored in clear"
        assert secret.encode() not in on_disk, f"{secret!r} in the database's files"
    for chat_id in chat_ids:
        assert chat_id not in cells and not [t for t in texts if str(chat_id) in t], "a chat id stored in clear"


class FakeCases:
    """The case API as the notifier sees it: one application, known by its access token."""

    def __init__(self, token: str, status: str) -> None:
        self.token, self.status_now = token, status
        self.asked: list[str] = []

    async def status(self, access_token: str):
        self.asked.append(access_token)
        if access_token != self.token:
            return NotFound()
        now = dt.datetime.now(dt.UTC)
        return Found(
            ApplicationStatus(
                "TRP-2026-000102", "temporary_residence", self.status_now, now.date(), now, None, None, None, (),
                "Baku", access_token,
            )
        )  # fmt: skip

    async def close(self) -> None:
        pass


def assert_private(data: Path) -> None:
    loose = [
        f"{p} {stat.S_IMODE(p.stat().st_mode):o}"
        for p in (data, *data.rglob("*"))
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    ]
    assert not loose, loose
