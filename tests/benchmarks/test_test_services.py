"""The servers the tests start for themselves (benchmarks/services.py): on ports of their own, never the
machine's 5432 and 6379, restartable, and gone without a trace when stopped — processes, folders, ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from benchmarks.services import (
    MACHINE_PORTS,
    TEST_DATABASE_VARIABLE,
    TEST_REDIS_VARIABLE,
    PostgresServer,
    RedisServer,
    database_for_tests,
    our_port,
    postgres_bindir,
    redis_binary,
    redis_for_tests,
    scratch_database,
)
from core.settings import PROJECT_ROOT


def binaries_missing() -> bool:
    try:
        postgres_bindir(), redis_binary()
    except RuntimeError:
        return True
    return False


# An operator who points the tests at servers of their own need not have the binaries; anyone else must.
servers = pytest.mark.skipif(
    bool(os.environ.get(TEST_DATABASE_VARIABLE) and os.environ.get(TEST_REDIS_VARIABLE)) and binaries_missing(),
    reason="servers named by the operator and no PostgreSQL or Redis binaries here",
)


def descendants(pid: int) -> set[int]:
    """The process and every process below it (postgres forks its workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in found]
        found.update(children)
        frontier.extend(children)
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def port_free(port: int) -> bool:
    """Nothing listens, and a new server could listen there."""
    with socket.socket() as client:
        if client.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
    return True


def owner(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


async def postgres_answers(server: PostgresServer) -> tuple[int, str]:
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres")
    try:
        return int(await connection.fetchval("SHOW port")), await connection.fetchval("SHOW data_directory")
    finally:
        await connection.close()


@servers
async def test_a_postgres_of_our_own_answers_restarts_and_leaves_nothing_behind():
    server = PostgresServer()
    with server:
        assert server.port not in MACHINE_PORTS
        assert await postgres_answers(server) == (server.port, str(server.data))
        if os.geteuid() == 0:  # initdb and postgres refuse root
            assert owner(server.pid) != 0
        first = server.pid
        server.restart()
        assert server.pid != first
        assert await postgres_answers(server) == (server.port, str(server.data))
        processes = descendants(server.pid)
        assert len(processes) > 1  # the postmaster and its workers
    assert not alive(processes)
    assert not server.folder.exists()
    assert port_free(server.port)


@servers
async def test_scratch_databases_are_created_on_the_given_server_and_dropped():
    with PostgresServer() as server:
        async with scratch_database(server.url()) as url:
            name = url.rsplit("/", 1)[1]
            assert url == server.url(name)
            connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/{name}")
            assert await connection.fetchval("SELECT current_database()") == name
            await connection.close()  # an open connection would not stop the drop either (FORCE)
        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres")
        try:
            assert await connection.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
        finally:
            await connection.close()


@servers
async def test_a_redis_of_our_own_answers_keeps_nothing_and_leaves_nothing_behind():
    server = RedisServer()
    with server:
        assert server.port not in MACHINE_PORTS
        client = Redis.from_url(server.url)
        try:
            assert await client.ping()
            assert await client.config_get("dir") == {"dir": str(server.folder)}
            assert await client.config_get("appendonly") == {"appendonly": "no"}
            assert await client.config_get("save") == {"save": ""}
        finally:
            await client.aclose()
        pid = server.pid
    assert not alive({pid})
    assert not server.folder.exists()
    assert port_free(server.port)


@servers
async def test_a_killed_redis_with_its_append_only_file_comes_back_with_its_data():
    with RedisServer(appendonly=True) as server:
        client = Redis.from_url(server.url)
        await client.set("queued", "update")
        await client.aclose()
        server.restart(kill=True)
        client = Redis.from_url(server.url)
        try:
            assert await client.get("queued") == b"update"
        finally:
            await client.aclose()


def test_servers_named_by_the_operator_are_used_and_nothing_is_started(monkeypatch):
    database_url, redis_url = "postgresql+asyncpg://tester@db.example:6543/tests", "redis://cache.example:7000/3"
    monkeypatch.setenv(TEST_DATABASE_VARIABLE, database_url)
    monkeypatch.setenv(TEST_REDIS_VARIABLE, redis_url)
    before = descendants(os.getpid())
    with database_for_tests() as database, redis_for_tests() as redis:
        assert (database, redis) == (database_url, redis_url)
        assert alive(descendants(os.getpid())) <= before


@servers
def test_a_session_interrupted_by_ctrl_c_leaves_no_server_behind():
    """Whatever becomes of the fixtures' teardown, the interpreter's exit stops the servers and removes their
    folders."""
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if a shell started us ignoring it\n"
        "from benchmarks.services import PostgresServer, RedisServer\n"
        "servers = [PostgresServer().__enter__(), RedisServer().__enter__()]\n"
        "print(*(f'{s.pid} {s.folder} {s.port}' for s in servers), sep='\\n', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    started = [child.stdout.readline().split() for _ in range(2)]
    assert all(len(line) == 3 for line in started), started
    processes = set().union(*(descendants(int(pid)) for pid, _, _ in started))
    child.send_signal(signal.SIGINT)  # what Ctrl-C sends
    child.wait(30)
    deadline = time.monotonic() + 10
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(processes)
    assert not any(Path(folder).exists() for _, folder, _ in started)
    assert all(port_free(int(port)) for _, _, port in started)


@pytest.mark.parametrize("port", sorted(MACHINE_PORTS))
def test_the_machines_ports_are_never_ours(port, monkeypatch):
    """Should the machine's server be down, the kernel may hand out its port: we take another."""
    monkeypatch.setattr("benchmarks.services.free_port", iter([port, port, 45_678]).__next__)
    assert our_port() == 45_678
