"""Real backing services of our own for the scale-out tests and the reliability benchmark: a Redis server
process we may kill and restart (with its append-only file, as production runs it, so queued updates
survive), a scratch PostgreSQL database on the machine's server (dropped afterwards), and a restart of that
server."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import AsyncIterator
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from assistant.launcher import free_port

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class RedisServer:
    port: int
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-")))
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.folder),
            # Every write reaches the file before Redis answers: a killed Redis loses no queued update.
            "--appendonly", "yes", "--appendfsync", "always",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        """Killed, not shut down: the harshest way for it to go."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def restart(self, down_s: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(down_s)
        await self.start()


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer(free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A new PostgreSQL database; yields its SQLAlchemy URL."""
    import asyncpg

    name = f"scratch_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def restart_postgres(down_s: float = 2.0) -> None:
    """Stops the machine's PostgreSQL (fast: open connections are cut), waits, starts it again."""
    await _pg_ctl("stop", "-m", "fast")
    await asyncio.sleep(down_s)
    await _pg_ctl("start")


async def _pg_ctl(action: str, *options: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    process = await asyncio.create_subprocess_exec(
        "pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *options,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, error = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pg_ctlcluster {action} failed: {error.decode(errors='replace')}")
