"""Real backing services of our own, for the test suite, the scale-out tests and the reliability benchmark: a
PostgreSQL server and a Redis server started in a temporary folder on free loopback ports, stopped (and the
folder removed) afterwards. They never touch a server the machine runs itself (5432, 6379).

An operator may point the tests at existing servers instead (`ASSISTANT_TEST_DATABASE_URL`,
`ASSISTANT_TEST_REDIS_URL`); then nothing is started. Process management is synchronous, so a session-scoped
pytest fixture can own a server whatever event loops the tests use; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

from assistant.launcher import free_port

TEST_DATABASE_VARIABLE = "ASSISTANT_TEST_DATABASE_URL"
TEST_REDIS_VARIABLE = "ASSISTANT_TEST_REDIS_URL"
MACHINE_PORTS = frozenset({5432, 6379})  # the machine's own servers: never ours


class LocalServer:
    """A server process of ours in a folder of its own; `close()` stops it and removes the folder."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else our_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"assistant-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        # A safety net for an interpreter that exits without the fixture's teardown: no process left behind.
        atexit.register(self.close)

    @property
    def pid(self) -> int:
        """The server's process (postgres: the postmaster)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Before the first start (postgres: initdb)."""

    def run_as(self) -> dict[str, Any]:
        """Popen's user/group arguments for the server's processes (none: ours)."""
        return {}

    def start(self, timeout_s: float = 60.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is None:
            self.prepare()
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C reaches only the tests, whose teardown still needs the server, then
            # stops it (or the interpreter's exit does: `close` is registered with atexit).
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.folder,
                start_new_session=True,
                **self.run_as(),
            )
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on port {self.port}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, kill: bool = False, timeout_s: float = 30.0) -> None:
        """Stops the server: SIGKILL with `kill` (the harshest way to go), else its own clean shutdown signal."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else self.stop_signal)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, down_s: float = 0.0, kill: bool = False) -> None:
        self.stop(kill=kill)
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.close)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class RedisServer(LocalServer):
    """redis-server without persistence, or with its append-only file (`appendonly`, as production runs it:
    every write reaches the file before Redis answers, so a killed Redis loses no queued update)."""

    name = "redis"

    def __init__(self, port: int | None = None, appendonly: bool = False) -> None:
        super().__init__(port)
        self.appendonly = appendonly

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        options = {"port": self.port, "bind": "127.0.0.1", "save": "", "dir": self.folder, "daemonize": "no"}
        options["appendonly"] = "yes" if self.appendonly else "no"
        if self.appendonly:
            options["appendfsync"] = "always"
        return [redis_binary(), *(arg for key, value in options.items() for arg in (f"--{key}", str(value)))]

    def ready(self) -> bool:
        """Answers PING (while loading its file it answers -LOADING)."""
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
        return False


class PostgresServer(LocalServer):
    """A PostgreSQL cluster of our own: initdb into the folder (superuser `postgres`, trust on loopback), the
    unix socket in the folder, durability off for speed. As root, its processes run as the `postgres` user
    (initdb and postgres refuse root)."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: open connections are cut

    def __init__(self, port: int | None = None) -> None:
        self.bindir = postgres_bindir()  # before the folder: a missing binary leaves nothing behind
        super().__init__(port)
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            account = postgres_account()
            os.chown(self.folder, account.pw_uid, account.pw_gid)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one of its databases."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def run_as(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        account = postgres_account()
        return {
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": [],
            "env": {**os.environ, "HOME": account.pw_dir, "USER": "postgres", "LOGNAME": "postgres"},
        }

    def prepare(self) -> None:
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"]
        with self.log_path.open("ab") as log:
            done = subprocess.run(
                [*initdb, "--no-locale", "-E", "UTF8"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.folder,
                check=False,
                **self.run_as(),
            )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{self.log_tail()}")

    def command(self) -> list[str]:
        # Loopback only, the socket in our folder (not /var/run/postgresql), no durability: it is thrown away.
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        options = (option for key, value in settings.items() for option in ("-c", f"{key}={value}"))
        return [str(self.bindir / "postgres"), "-D", str(self.data), *options]

    def ready(self) -> bool:
        probe = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        return subprocess.run([*probe, "-d", "postgres"], check=False).returncode == 0


def postgres_bindir() -> Path:
    """Where initdb and postgres are: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin (Debian
    keeps them off PATH), else next to an initdb on PATH."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        candidates.append(
            Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        )
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)], reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "postgres", "pg_isready")):
            return bindir
    raise RuntimeError(
        "PostgreSQL's server binaries are missing: run scripts/setup.sh as root (apt-get install "
        f"postgresql), or set {TEST_DATABASE_VARIABLE} to a server the tests may use"
    )


def postgres_account() -> pwd.struct_passwd:
    """The user PostgreSQL runs as when we are root (Debian's package creates it)."""
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "as root, PostgreSQL needs a `postgres` user to run as (useradd --system postgres)"
        ) from None


def redis_binary() -> str:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        raise RuntimeError(
            "redis-server is missing: run scripts/setup.sh as root (apt-get install redis-server), "
            f"or set {TEST_REDIS_VARIABLE} to a server the tests may use"
        )
    return binary


def our_port() -> int:
    """A free loopback port that is not the machine's servers'."""
    port = free_port()
    while port in MACHINE_PORTS:  # only if the machine's server is down and the kernel hands its port out
        port = free_port()
    return port


# ------------------------------------------------------------------ what the tests and benchmarks use


@contextlib.contextmanager
def database_for_tests() -> Iterator[str]:
    """The SQLAlchemy URL of a database the tests may drop tables in: the operator's, or a server of ours."""
    if url := os.environ.get(TEST_DATABASE_VARIABLE):
        yield url
        return
    with PostgresServer() as server:
        yield server.url()


@contextlib.contextmanager
def redis_for_tests() -> Iterator[str]:
    """The URL of a Redis the tests may use under namespaces of their own: the operator's, or ours."""
    if url := os.environ.get(TEST_REDIS_VARIABLE):
        yield url
        return
    with RedisServer() as server:
        yield server.url


Server = TypeVar("Server", bound=LocalServer)


@contextlib.asynccontextmanager
async def _running(server: Server) -> AsyncIterator[Server]:
    """`server` started and, afterwards, closed, off the event loop (both wait on processes)."""
    await asyncio.to_thread(server.__enter__)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.close)


def private_redis() -> contextlib.AbstractAsyncContextManager[RedisServer]:
    """A Redis of the caller's own to kill and restart, with its append-only file."""
    return _running(RedisServer(appendonly=True))


def private_postgres() -> contextlib.AbstractAsyncContextManager[PostgresServer]:
    """A PostgreSQL server of the caller's own to stop and start (`restart_postgres`)."""
    return _running(PostgresServer())


@contextlib.asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server of `server_url` (the SQLAlchemy URL of any database there, whose user may
    create databases); yields its SQLAlchemy URL and drops it afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"scratch_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def restart_postgres(server: PostgresServer, down_s: float = 2.0) -> None:
    """Stops the server (fast: open connections are cut), waits, starts it again."""
    await asyncio.to_thread(server.restart, down_s)
