"""`python -m assistant serve balancer`: HAProxy in front of engines or gateways that run elsewhere (their
own containers), for docker-compose; in front of engines, with the rollout controller beside it. It does
there what the launcher's stack does on one machine: HAProxy as a child process, its runtime API on a socket
inside this container only, and the controller moving the engines to the model store's pointer one at a time.

The engines are fixed (`engine_upstreams`): no blue/green here; a single engine loads in place.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from assistant.haproxy import Backend, HAProxyAdmin, Server, config_text, haproxy_binary
from assistant.rollout import EngineSlot, RolloutController
from core.bootstrap import open_database
from core.settings import Settings
from training.model_store import ModelStore

log = logging.getLogger(__name__)
ENGINES_PORT, GATEWAYS_PORT = 5005, 8443
DOCKER_DNS = "127.0.0.11:53"  # Docker's embedded DNS server, in every container of a user-defined network


class FixedEngines:
    """The rollout controller's fleet: the configured engines, nothing to start or stop."""

    def __init__(self, upstreams: list[str]) -> None:
        self.slots = []
        for i, upstream in enumerate(upstreams):
            host, _, port = upstream.rpartition(":")
            self.slots.append(EngineSlot(f"engine-{i + 1}", f"engine-{i + 1}", int(port), host))

    def engine_slots(self) -> list[EngineSlot]:
        return list(self.slots)

    def room_for_twin(self) -> bool:
        return False

    async def start_twin(self, slot: EngineSlot) -> EngineSlot:
        raise RuntimeError("fixed engines: no blue/green")

    async def retire(self, slot: EngineSlot) -> None:
        raise RuntimeError("fixed engines: none to stop")


def servers(upstreams: list[str], prefix: str) -> list[Server]:
    return [
        Server(f"{prefix}-{i + 1}", int(port), host=host)
        for i, (host, _, port) in enumerate(upstream.rpartition(":") for upstream in upstreams)
    ]


def write_config(settings: Settings, folder: Path) -> Path:
    token = settings.engine_api_token.get_secret_value() if settings.engine_api_token else ""
    backends = []
    if settings.engine_upstreams:
        engines = servers(settings.engine_upstreams, "engine")
        backends.append(Backend("engines", ENGINES_PORT, engines, f"/status?token={token}", "leastconn", "0.0.0.0"))
    if settings.gateway_upstreams:
        backends.append(
            Backend(
                "gateways", GATEWAYS_PORT, servers(settings.gateway_upstreams, "gateway"), "/health", listen="0.0.0.0"
            )
        )
    metrics = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    config = folder / "haproxy.cfg"
    # Containers come and go with new addresses: Docker's DNS is asked again, every few seconds.
    config.write_text(
        config_text(backends, folder / "haproxy.sock", settings.balancer_metrics_port, metrics, DOCKER_DNS)
    )
    config.chmod(0o600)
    return config


async def serve(settings: Settings) -> int:
    binary = haproxy_binary()
    if binary is None or not (settings.engine_upstreams or settings.gateway_upstreams):
        log.error("the balancer needs HAProxy and ASSISTANT_ENGINE_UPSTREAMS or ASSISTANT_GATEWAY_UPSTREAMS")
        return 2
    if settings.engine_upstreams and settings.engine_api_token is None:
        log.error("in front of engines the balancer needs ASSISTANT_ENGINE_API_TOKEN (health checks, rollouts)")
        return 2
    folder = settings.data_dir / "balancer"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "haproxy.sock").unlink(missing_ok=True)
    haproxy = await asyncio.create_subprocess_exec(binary, "-f", str(write_config(settings, folder)), "-db")
    database, controller = None, None
    if settings.engine_upstreams and settings.engine_api_token is not None:
        database = await open_database(settings)
        controller = RolloutController(
            ModelStore(database.sessions),
            FixedEngines(settings.engine_upstreams),
            HAProxyAdmin(folder / "haproxy.sock"),
            settings.engine_api_token.get_secret_value(),
        )
        controller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    exited = asyncio.create_task(haproxy.wait())
    try:
        await asyncio.wait([exited, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if controller is not None and database is not None:
            await controller.stop()
            await database.close()
        if haproxy.returncode is None:
            haproxy.terminate()
            await haproxy.wait()
    if exited.done() and not stop.is_set():
        log.error("HAProxy exited with code %s", haproxy.returncode)
        return 1
    return 0
