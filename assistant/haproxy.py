"""HAProxy in front of the engines (and of the gateways in webhook scale-out): its configuration, written by
the launcher, and its runtime API, through which the rollout drains an engine while it loads a model.

- Engines: least connections over the replicas, each checked every 2 s on Rasa's `/status`, which answers
  200 only with a model loaded. With one engine, `blue` serves and `green` waits in maintenance for
  blue/green: the new engine takes the free slot, the old one drains out (assistant/rollout.py).
- A request is sent to another engine only when it certainly was not handled: the connection failed or the
  engine answered 503. After a timeout it is not repeated, because the first may have answered the user.
- Its own metrics, in Prometheus' format, on `balancer_metrics_port` when set, behind the metrics token.
- The runtime API listens on a socket in the data folder, readable by this user only. State changes (an
  engine down, drained, back) go to its log, `<data_dir>/logs/balancer.log`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

HAPROXY_NAMES = ("haproxy", "/usr/sbin/haproxy")


def haproxy_binary() -> str | None:
    """HAProxy's executable; None when it is not installed (scripts/setup.sh installs it)."""
    return next((found for name in HAPROXY_NAMES if (found := shutil.which(name))), None)


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    enabled: bool = True
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class Backend:
    name: str
    listen_port: int
    servers: list[Server]
    health: str  # the check's request line: path (and query)
    balance: str = "roundrobin"
    listen: str = "127.0.0.1"


def config_text(
    backends: list[Backend],
    socket: Path,
    metrics_port: int | None,
    metrics_token: str | None,
    nameserver: str | None = None,
) -> str:
    """`nameserver` (host:port): servers' names are looked up there again while running, not only at start."""
    lines = [
        "# Written by assistant.haproxy from the settings; edits are overwritten.",
        "global",
        f"    stats socket {socket} mode 600 level admin",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 130s",
        "    timeout server 130s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 30s",
        # A busy engine answers its check late, not never: marking it down would fail every request it
        # could have answered. A dead one refuses connections, which are retried elsewhere at once.
        "    timeout check 5s",
        "    option redispatch 1",  # every retry may go to another server, not only the last
        "    retries 2",
        "    retry-on conn-failure 503",
    ]
    if nameserver:
        lines += ["resolvers dns", f"    nameserver dns {nameserver}", "    hold valid 10s"]
    for backend in backends:
        lines += [
            f"frontend {backend.name}",
            f"    bind {backend.listen}:{backend.listen_port}",
            f"    default_backend {backend.name}",
            f"backend {backend.name}",
            f"    balance {backend.balance}",
            "    option httpchk",
            f"    http-check send meth GET uri {backend.health}",
            # A name that does not resolve yet (a container still starting) leaves the server down, not HAProxy.
            # A refused connection marks the server down at once (its requests go elsewhere); a server down is
            # checked every half second, so it is back as soon as it answers.
            "    default-server check inter 2s downinter 500ms fall 3 rise 1 init-addr last,libc,none"
            " observe layer4 error-limit 1 on-error mark-down"
            + (" resolvers dns resolve-prefer ipv4" if nameserver else ""),
        ]
        for server in backend.servers:
            lines.append(
                f"    server {server.name} {server.host}:{server.port}" + ("" if server.enabled else " disabled")
            )
    if metrics_port is not None:
        lines += ["frontend metrics", f"    bind {backends[0].listen if backends else '127.0.0.1'}:{metrics_port}"]
        if metrics_token:
            bearer = f'req.hdr(authorization) -m str "Bearer {metrics_token}"'
            lines.append(f"    http-request deny deny_status 401 unless {{ {bearer} }}")
        else:
            lines.append("    http-request deny deny_status 401")  # no token set: metrics refuse everyone
        lines.append("    http-request use-service prometheus-exporter if { path /metrics }")
    return "\n".join(lines) + "\n"


class HAProxyRefused(Exception):
    """HAProxy's runtime API refused a command."""


class HAProxyAdmin:
    """HAProxy's runtime API over its socket: one command per connection."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    async def command(self, line: str) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.socket))
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()

    async def set_state(self, backend: str, server: str, state: str) -> None:
        """`state` is ready, drain or maint."""
        await self._expect_silence(f"set server {backend}/{server} state {state}")

    async def set_address(self, backend: str, server: str, port: int) -> None:
        answer = await self.command(f"set server {backend}/{server} addr 127.0.0.1 port {port}")
        if "changed" not in answer and "no need to change" not in answer:
            raise HAProxyRefused(answer.strip())

    async def stats(self, backend: str) -> dict[str, dict[str, str]]:
        """`show stat` for the backend's servers, by server name (status, scur = requests in progress, …)."""
        text = await self.command("show stat")
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {
            row["svname"]: row
            for row in rows
            if row.get("pxname") == backend and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    async def in_progress(self, backend: str, server: str) -> int:
        row = (await self.stats(backend)).get(server)
        return int(row["scur"] or 0) + int(row["qcur"] or 0) if row else 0

    async def status(self, backend: str, server: str) -> str:
        """UP, DOWN, MAINT, DRAIN, … as HAProxy sees the server now."""
        row = (await self.stats(backend)).get(server)
        return row["status"] if row else "UNKNOWN"

    async def _expect_silence(self, line: str) -> None:
        answer = (await self.command(line)).strip()
        if answer:
            raise HAProxyRefused(f"{line}: {answer}")
