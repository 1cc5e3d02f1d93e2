"""Starting and stopping the assistant's processes: emulator, action server, engine, gateway.

Used by `python -m assistant run` and, unchanged, by the end-to-end tests and benchmarks, so what is tested
is exactly what a newcomer runs. Each process gets the settings through `ASSISTANT_*` environment
variables and writes its log to `<data_dir>/logs/<name>.log`.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from aiohttp import ClientError, ClientSession, ClientTimeout
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from assistant.haproxy import Backend, HAProxyAdmin, Server, config_text, haproxy_binary
from assistant.rollout import EngineSlot, RolloutController
from core.bootstrap import Database, open_database
from core.data_key import make_key_files
from core.hop_auth import ACTIONS_SECRET_VARIABLE, ENGINE_SECRET_VARIABLE
from core.private_files import PRIVATE_UMASK
from core.settings import PROJECT_ROOT, Settings
from core.tasks import kill_process_group, within
from training.engine_admin import loaded_model
from training.model_store import ModelStore
from training.publishing import seed
from training.trainer import rasa_env, rasa_python

DEMO_SUPPORT_CHAT, DEMO_OFFICERS_CHAT = -1001000000001, -1001000000002
DEMO_STAFF_MEMBER = 100_002  # the terminal chat's `:staff` speaks as this member
# The stack has this long to stop after the first SIGTERM before what remains is killed (a person's Ctrl-C
# waits on it).
STOP_TIMEOUT_S = 5.0
_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None
try:  # resolved here: a child forked from a process with threads should run as little as possible before exec
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the launcher's own stop is all there is
    _prctl = None


def child_setup() -> None:
    """In a new service, before exec: its files private (core/private_files.py), whatever the launcher's
    own umask; and SIGTERM when the launcher dies, even by SIGKILL, so no service outlives it holding its port
    (each runs in a session of its own, out of reach of the terminal's signals)."""
    os.umask(PRIVATE_UMASK)
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_settings(data_dir: Path, **overrides: Any) -> Settings:
    """A whole stack of its own on free loopback ports, with the emulator (tests, benchmarks): several can
    run at once on one machine. Models are shared, so each fingerprint is trained once. The engine's and the
    case API's URLs follow their ports (core/settings.py)."""
    return Settings(
        _env_file=None,
        telegram_bot_token=None,
        data_dir=data_dir,
        models_dir=PROJECT_ROOT / "models",
        emulator_port=free_port(),
        console_port=free_port(),
        case_api_port=free_port(),
        action_server_port=free_port(),
        engine_port=free_port(),
        **overrides,
    )


# engine/serve.py reads the engine's API token from here (not importable here: importing `engine` installs
# the engine's log record factory in this process).
ENGINE_TOKEN_VARIABLE = "ENGINE_AUTH_TOKEN"


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same `Settings`."""
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        key = "TELEGRAM_BOT_TOKEN" if name == "telegram_bot_token" else f"ASSISTANT_{name.upper()}"
        if value is None:
            env.pop(key, None)
            continue
        if isinstance(value, SecretStr):
            env[key] = value.get_secret_value()
        elif isinstance(value, list | dict):
            env[key] = json.dumps(value)  # how pydantic-settings reads a complex value back
        else:
            env[key] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# The database's and Redis' passwords reach the engine in these: endpoints.yml names them (`${…}`, which Rasa
# expands when it reads the file), so that no file holds a password. The model store's bearer token too.
DATABASE_PASSWORD_VARIABLE = "ENGINE_DATABASE_PASSWORD"
REDIS_PASSWORD_VARIABLE = "ENGINE_REDIS_PASSWORD"
MODEL_STORE_TOKEN_VARIABLE = "ENGINE_MODEL_STORE_TOKEN"


def engine_store_passwords(settings: Settings) -> dict[str, str]:
    """The passwords endpoints.yml refers to, by variable (none for SQLite and a Redis without one)."""
    passwords = {
        DATABASE_PASSWORD_VARIABLE: make_url(settings.sqlalchemy_url).password
        if settings.sqlalchemy_url.startswith("postgresql")
        else None,
        REDIS_PASSWORD_VARIABLE: urlsplit(settings.redis_url).password if settings.redis_url else None,
    }
    return {variable: str(password) for variable, password in passwords.items() if password is not None}


def engine_env(settings: Settings, secrets: dict[str, str]) -> dict[str, str]:
    """The engine's environment: Rasa's, with none of our settings (the bot token, the data keys, the case
    API's token and the database URL's password are nothing the engine should hold) and only `secrets`, the
    ones it needs, in variables of its own (engine/serve.py takes the hop secrets out at start)."""
    env = {
        key: value
        for key, value in rasa_env(settings).items()
        if not key.startswith("ASSISTANT_") and key != "TELEGRAM_BOT_TOKEN"
    }
    return {**env, **engine_store_passwords(settings), **secrets}


def write_engine_endpoints(settings: Settings) -> Path:
    """Rasa's endpoints file, from our settings (model store, action server, tracker store, lock store);
    secrets only by the name of the engine's variable that holds them (`engine_store_passwords`).

    Embedded: SQLite conversations and in-process locks. Scale-out: conversations in our PostgreSQL (Rasa's
    own `events` table) and the per-conversation lock in Redis, so any engine replica can take any message
    and two replicas never work on one conversation at once."""
    folder = settings.data_dir / "engine"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "endpoints.yml"
    endpoints: dict[str, Any] = {"action_endpoint": {"url": settings.action_server_url}}
    # The model: the store's pointer, fetched at start and at each `PUT /model` (assistant/rollout.py); never
    # pulled on a timer, which would load it while the engine takes messages.
    endpoints["models"] = {
        "url": settings.model_store_url,
        "headers": {"Authorization": f"Bearer ${{{MODEL_STORE_TOKEN_VARIABLE}}}"},
        "wait_time_between_pulls": None,
    }
    # Conversations are stored with personal data redacted (engine/tracker_store.py).
    tracker: dict[str, Any] = {"type": "engine.tracker_store.RedactingSQLTrackerStore"}
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "postgresql":
        # Rasa passes a custom store its endpoint `url` as `host`.
        tracker.update(
            dialect="postgresql",
            url=url.host or "127.0.0.1",
            port=url.port or 5432,
            db=url.database,
            username=url.username,
            password=f"${{{DATABASE_PASSWORD_VARIABLE}}}" if url.password is not None else None,
        )
        tracker = {k: v for k, v in tracker.items() if v is not None}
    else:
        tracker.update(dialect="sqlite", db=str(settings.data_dir / "engine_tracker.db"))
    endpoints["tracker_store"] = tracker
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        endpoints["lock_store"] = {
            k: v
            for k, v in {
                "type": "redis",
                "url": redis.hostname or "127.0.0.1",
                "port": redis.port or 6379,
                "db": int(redis.path.strip("/") or 0),
                "password": f"${{{REDIS_PASSWORD_VARIABLE}}}" if redis.password is not None else None,
                "key_prefix": "".join(c for c in f"{settings.redis_namespace}engine" if c.isalnum()),  # Rasa's rule
            }.items()
            if v is not None
        }
    else:
        endpoints["lock_store"] = {"type": "in_memory"}
    path.write_text(
        "# Written by assistant.launcher from the settings; edits are overwritten.\n"
        + yaml.safe_dump(endpoints, sort_keys=False),
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


Check = Callable[[ClientSession], Awaitable[bool]]


def engine_serves_a_model(port: int, token: str | None) -> Check:
    """Ready once the engine has loaded a model (`/status` answers 409 before, and when the store had none)."""

    async def check(session: ClientSession) -> bool:
        return await loaded_model(f"http://127.0.0.1:{port}", token) is not None

    return check


def haproxy_ready(socket: Path) -> Check:
    async def check(session: ClientSession) -> bool:
        try:
            return "Name: HAProxy" in await HAProxyAdmin(socket).command("show info")
        except OSError:
            return False

    return check


def http_ok(url: str) -> Check:
    async def check(session: ClientSession) -> bool:
        try:
            async with session.get(url, timeout=ClientTimeout(total=2)) as response:
                return response.status == 200
        except (ClientError, TimeoutError, OSError):
            return False

    return check


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: Check
    env: dict[str, str]
    startup_timeout_s: float = 60.0
    process: asyncio.subprocess.Process | None = None
    log_path: Path | None = None
    port: int | None = None  # where it listens, for the balancer and the rollout
    server: str | None = None  # an engine's server in HAProxy's engines backend
    generation: int = 0  # blue/green: the engine that replaced generation - 1 (its own log file)


# Secrets the processes of a stack must agree on. `python -m assistant run` makes the missing ones for the run;
# separately started services (containers, replicas) cannot: without the ones it needs a service refuses to
# start, without the optional ones what they protect refuses everyone (metrics, the sandbox's switches).
NEEDED_SECRETS = {
    "gateway": ("engine_hop_secret",),  # and webhook_secret in webhook mode
    "engine": ("engine_api_token", "engine_hop_secret", "actions_hop_secret"),
    "actions": ("actions_hop_secret",),
    "console": ("engine_api_token",),  # the model store's downloads
    "follower": ("engine_api_token",),  # asks its engine which model it serves, and loads the pointer's
    "balancer": (),  # in front of engines, the engine API token too: health checks and model rollouts
    "case-api": (),
}
OPTIONAL_SECRETS = ("metrics_token", "sandbox_admin_token")


@dataclass
class Stack:
    settings: Settings
    model: Path
    with_emulator: bool
    services: list[Service] = field(default_factory=list)
    # False for `python -m assistant serve` (one service per container): secrets must come from the settings.
    per_run_secrets: bool = True
    _database: Database | None = field(default=None, repr=False)
    _rollout: RolloutController | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.per_run_secrets:
            self.settings = self.settings.model_copy(
                update={
                    name: SecretStr(secrets.token_urlsafe(32))
                    for name in self.shared_secrets()
                    if getattr(self.settings, name) is None
                }
            )
        # With the emulator, the staff groups are in it too: handing chats to people works in the demo.
        if self.with_emulator and self.settings.staff_support_chat_id is None:
            self.settings = self.settings.model_copy(
                update={
                    "staff_support_chat_id": DEMO_SUPPORT_CHAT,
                    "staff_officers_chat_id": DEMO_OFFICERS_CHAT,
                }
            )

    def shared_secrets(self) -> list[str]:
        """The settings that must hold the same secret in every process."""
        return [*self._needed_secrets(*NEEDED_SECRETS), *OPTIONAL_SECRETS]

    def _needed_secrets(self, *services: str) -> list[str]:
        webhook = ["webhook_secret"] if self.settings.webhook_url and "gateway" in services else []
        return list(dict.fromkeys([*(name for service in services for name in NEEDED_SECRETS[service]), *webhook]))

    def missing_secrets(self, service: str) -> list[str]:
        """The environment variables of the secrets `service` needs that are not set."""
        needed = self._needed_secrets(service)
        return [f"ASSISTANT_{name.upper()}" for name in needed if getattr(self.settings, name) is None]

    def plan(self) -> list[Service]:
        s = self.settings
        env = settings_env(s)
        python = sys.executable
        services: list[Service] = []
        if self.with_emulator:
            services.append(
                Service(
                    "emulator",
                    [python, "-m", "telegram_emulator", "--port", str(s.emulator_port)],
                    http_ok(f"{s.emulator_url}/health"),
                    env,
                    20,
                )
            )
        if _on_loopback(s.case_api_url):  # the bundled sandbox (check_wiring: on its port)
            services.append(
                Service(
                    "case-api",
                    [python, "-m", "case_api.sandbox"],
                    http_ok(f"http://127.0.0.1:{s.case_api_port}/v1/health"),
                    env,
                    30,
                )
            )
        services.append(
            Service(
                "actions",
                [python, "-m", "actions"],
                http_ok(f"http://127.0.0.1:{s.action_server_port}/health"),
                env,
                60,
            )
        )
        front = self.fronts_engines()
        engines = [
            self.engine_service(
                "engine" if s.engine_replicas == 1 else f"engine-{i + 1}",
                free_port() if front else s.engine_port,
                server="blue" if s.engine_replicas == 1 else f"engine-{i + 1}",
            )
            for i in range(s.engine_replicas)
        ]
        gateway_ports = [free_port() for _ in range(s.gateway_replicas)] if s.gateway_replicas > 1 else []
        # The console before the engines: they fetch their model from it (console/model_server.py).
        services.append(
            Service(
                "console",
                [python, "-m", "console", "serve"],
                http_ok(f"http://127.0.0.1:{s.console_port}/health"),
                env,
                60,
            )
        )
        if front:
            services.append(self._balancer(engines, gateway_ports, env))
        services += engines
        if not gateway_ports:
            ready = http_ok(f"http://127.0.0.1:{s.webhook_port}/health") if s.webhook_url else self._gateway_ready
            services.append(Service("gateway", [python, "-m", "bot"], ready, env, 60))
        for i, port in enumerate(gateway_ports):
            services.append(
                Service(
                    f"gateway-{i + 1}",
                    [python, "-m", "bot"],
                    http_ok(f"http://127.0.0.1:{port}/health"),
                    {**env, "ASSISTANT_WEBHOOK_PORT": str(port)},
                    60,
                    port=port,
                )
            )
        return services

    def fronts_engines(self) -> bool:
        """HAProxy in front of the engines: always in the launcher when installed (a single engine then
        switches models blue/green); `serve` (one service per container) never."""
        return self.per_run_secrets and haproxy_binary() is not None

    def engine_service(self, name: str, port: int, server: str | None, generation: int = 0) -> Service:
        s = self.settings
        endpoints = write_engine_endpoints(s)
        # Secrets reach the engine in its environment (engine/serve.py takes them out), never in argv.
        secret_env = engine_env(
            s,
            {
                variable: secret.get_secret_value() if secret else ""
                for variable, secret in (
                    (ENGINE_TOKEN_VARIABLE, s.engine_api_token),
                    (MODEL_STORE_TOKEN_VARIABLE, s.engine_api_token),
                    (ENGINE_SECRET_VARIABLE, s.engine_hop_secret),
                    (ACTIONS_SECRET_VARIABLE, s.actions_hop_secret),
                )
            },
        )
        # No --model: the engine loads the store's pointer (endpoints.yml's model server).
        argv = [
            str(rasa_python(s)),
            "-m",
            "engine.serve",
            "run",
            "--port",
            str(port),
            "--interface",
            s.engine_listen,
            "--credentials",
            str(PROJECT_ROOT / "credentials.yml"),
            "--endpoints",
            str(endpoints),
            "--enable-api",
        ]
        ready = engine_serves_a_model(port, s.engine_api_token.get_secret_value() if s.engine_api_token else None)
        return Service(name, argv, ready, secret_env, 180, port=port, server=server, generation=generation)

    def _balancer(self, engines: list[Service], gateway_ports: list[int], env: dict[str, str]) -> Service:
        s = self.settings
        folder = s.data_dir / "engine"
        socket, config = folder / "haproxy.sock", folder / "haproxy.cfg"
        token = s.engine_api_token.get_secret_value() if s.engine_api_token else ""
        servers = [Server(str(e.server), int(e.port or 0)) for e in engines]
        if len(engines) == 1:
            servers.append(Server("green", 1, enabled=False))  # blue/green: the next engine's slot
        backends = [Backend("engines", s.engine_port, servers, f"/status?token={token}", "leastconn")]
        if gateway_ports:
            gateways = [Server(f"gateway-{i + 1}", port) for i, port in enumerate(gateway_ports)]
            backends.append(Backend("gateways", s.webhook_port, gateways, "/health"))
        metrics_token = s.metrics_token.get_secret_value() if s.metrics_token else None
        config.write_text(config_text(backends, socket, s.balancer_metrics_port, metrics_token), encoding="utf-8")
        config.chmod(0o600)  # it holds the engine API token (the health check asks /status)
        socket.unlink(missing_ok=True)
        argv = [str(haproxy_binary()), "-f", str(config), "-db"]
        return Service("balancer", argv, haproxy_ready(socket), env, 20, port=s.engine_port)

    def check_scale_out(self) -> None:
        """Replicas only work with the shared stores; refuse a configuration that would answer wrongly."""
        s = self.settings
        if (s.engine_replicas > 1 or s.gateway_replicas > 1) and haproxy_binary() is None:
            raise ValueError("replicas need HAProxy in front of them: run scripts/setup.sh (apt-get install haproxy)")
        if s.engine_replicas > 1 or s.gateway_replicas > 1:
            missing = [
                name
                for name, ok in (
                    ("ASSISTANT_REDIS_URL", s.redis_url),
                    ("a PostgreSQL ASSISTANT_DATABASE_URL", s.sqlalchemy_url.startswith("postgresql")),
                )
                if not ok
            ]
            if missing:
                raise ValueError(f"replicas need {' and '.join(missing)}")
        if s.gateway_replicas > 1 and not s.webhook_url:
            raise ValueError("gateway replicas need webhook mode (ASSISTANT_WEBHOOK_URL)")

    def check_wiring(self) -> None:
        """The gateway and the console must reach the engine this stack starts, and the action server the case
        API sandbox when its URL is on this machine: a port set alone moves the URL with it, but a URL set
        elsewhere (an old .env) would leave them calling nothing while every service looks ready."""
        s = self.settings
        for what, url, port, started in (
            ("ENGINE", s.engine_url, s.engine_port, "the engine starts"),
            ("CASE_API", s.case_api_url, s.case_api_port, "the case API sandbox starts"),
        ):
            if what == "CASE_API" and not _on_loopback(url):
                continue  # a case API elsewhere: not ours to start
            if not _on_loopback(url) or (urlsplit(url).port or 80) != port:
                raise RuntimeError(
                    f"ASSISTANT_{what}_URL is {url}, but {started} on port {port}: "
                    f"unset ASSISTANT_{what}_URL (it follows ASSISTANT_{what}_PORT)"
                )

    async def _gateway_ready(self, session: ClientSession) -> bool:
        """Ready once it has registered its commands (the last step of its start-up)."""
        if not self.with_emulator:
            gateway = self.services[-1].process
            return gateway is not None and gateway.returncode is None
        url = f"{self.settings.emulator_url}/_emulator/{self.settings.bot_token}/info"
        try:
            async with session.get(url, timeout=ClientTimeout(total=2)) as response:
                info = await response.json()
                return info["calls"].get("setmycommands", 0) >= 4
        except (ClientError, TimeoutError, OSError, KeyError, ValueError):
            return False

    async def start(self, progress: Callable[[str], None] = lambda _: None) -> None:
        self.check_scale_out()
        self.check_wiring()
        make_key_files(self.settings)  # the services read them from this data folder, PostgreSQL or not
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.services = self.plan()
        self._database = await open_database(self.settings)
        store = ModelStore(self._database.sessions)
        # The engines start on the model this stack was started with: trained for the current data, it is
        # what a publish would produce.
        await seed(store, self.model, "launcher", replace=True)
        async with ClientSession() as session:
            for service in self.services:
                progress(f"starting {service.name}…")
                await self._spawn(service, logs)
                await self._wait_ready(service, session)
                if service.name == "emulator":
                    await self._demo_staff_groups(session)
        token = self.settings.engine_api_token
        assert token is not None  # made for the run when unset (NEEDED_SECRETS)
        balancer = next((s for s in self.services if s.name == "balancer"), None)
        admin = HAProxyAdmin(self.settings.data_dir / "engine" / "haproxy.sock") if balancer else None
        if admin is not None:
            await _every_server_up(admin)
        self._rollout = RolloutController(store, self, admin, token.get_secret_value())
        self._rollout.start()

    # The rollout controller's fleet (assistant/rollout.py).

    def engine_slots(self) -> list[EngineSlot]:
        return [EngineSlot(s.name, s.server, s.port) for s in self.services if s.server and s.port]

    def room_for_twin(self) -> bool:
        """Whether a second engine fits in memory beside the first (its size, with a margin)."""
        engine = next((s for s in self.services if s.server), None)
        balanced = any(s.name == "balancer" for s in self.services)
        if engine is None or engine.process is None or not balanced or not self.settings.engine_blue_green:
            return False
        rss, available = _rss_mb(engine.process.pid), _available_mb()
        return rss > 0 and available > 1.5 * rss + 512

    async def start_twin(self, slot: EngineSlot) -> EngineSlot:
        old = next(s for s in self.services if s.server == slot.server)
        twin = self.engine_service(
            old.name, free_port(), "green" if old.server == "blue" else "blue", old.generation + 1
        )
        async with ClientSession() as session:
            await self._spawn(twin, self.settings.data_dir / "logs")
            try:
                await self._wait_ready(twin, session)
            except BaseException:
                await _terminate(twin, STOP_TIMEOUT_S)
                raise
        self.services.insert(self.services.index(old) + 1, twin)
        assert twin.server is not None and twin.port is not None
        return EngineSlot(twin.name, twin.server, twin.port)

    async def retire(self, slot: EngineSlot) -> None:
        service = next(s for s in self.services if s.server == slot.server and s.port == slot.port)
        await _terminate(service, STOP_TIMEOUT_S)
        self.services.remove(service)

    async def _demo_staff_groups(self, session: ClientSession) -> None:
        """The support and officers' forum groups in the emulator, each with one demo staff member."""
        base = f"{self.settings.emulator_url}/_emulator/{self.settings.bot_token}/chats"
        for chat_id, title in (
            (self.settings.staff_support_chat_id, "Support"),
            (self.settings.staff_officers_chat_id, "Officers"),
        ):
            if chat_id is None:
                continue
            body = {"id": chat_id, "title": title, "is_forum": True, "members": [DEMO_STAFF_MEMBER]}
            async with session.post(base, json=body) as response:
                response.raise_for_status()

    async def _spawn(self, service: Service, logs: Path) -> None:
        service.log_path = logs / (
            f"{service.name}.{service.generation}.log" if service.generation else f"{service.name}.log"
        )
        log_file = open(service.log_path, "ab")  # noqa: SIM115, ASYNC230 - a local log, handed to the child
        try:
            service.process = await asyncio.create_subprocess_exec(
                *service.argv,
                cwd=PROJECT_ROOT,
                env=service.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=child_setup,
            )
        finally:
            log_file.close()

    async def _wait_ready(self, service: Service, session: ClientSession) -> None:
        deadline = time.monotonic() + service.startup_timeout_s
        while time.monotonic() < deadline:
            if service.process is not None and service.process.returncode is not None:
                raise RuntimeError(
                    f"{service.name} exited with code {service.process.returncode}; see {service.log_path}"
                )
            if await service.ready(session):
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(
            f"{service.name} did not become ready in {service.startup_timeout_s:.0f} s; see {service.log_path}"
        )

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    async def stop_service(self, name: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
        await _terminate(self.service(name), timeout_s)

    async def restart_service(self, name: str) -> None:
        service = self.service(name)
        await _terminate(service, STOP_TIMEOUT_S)
        async with ClientSession() as session:
            await self._spawn(service, self.settings.data_dir / "logs")
            await self._wait_ready(service, session)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """The gateways first, so nothing new comes in while the others go down; then the rest at once.
        One deadline for both waves: a reply in flight holds a gateway and then the engine, and two waves
        of their own would add up (12 s for a Ctrl-C during a slow status lookup)."""
        deadline = time.monotonic() + timeout_s
        if self._rollout is not None:
            await self._rollout.stop()
        gateways = [s for s in self.services if s.name.startswith("gateway")]
        for wave in (gateways, [s for s in self.services if s not in gateways]):
            await asyncio.gather(*(_terminate(s, max(0.0, deadline - time.monotonic())) for s in wave))
        if self._database is not None:
            await self._database.close()
            self._database = None

    def kill(self) -> None:
        """Every process of the stack and its children, at once (a second Ctrl-C)."""
        for service in self.services:
            if service.process is not None:
                kill_process_group(service.process)


def _on_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


async def _every_server_up(admin: HAProxyAdmin, timeout_s: float = 15.0) -> None:
    """Until HAProxy has seen every server it should send to pass its check: a replica that was still starting
    when it was first checked counts as down until its next check, and would get nothing meanwhile."""

    async def all_up() -> bool:
        rows = [row for backend in ("engines", "gateways") for row in (await admin.stats(backend)).values()]
        return all(row["status"] in ("UP", "MAINT") for row in rows)

    if not await within(timeout_s, 0.2, all_up):
        raise RuntimeError(f"HAProxy does not see every engine and gateway up after {timeout_s:.0f} s")


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


def _available_mb() -> float:
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in meminfo.splitlines() if line.startswith("MemAvailable:")), 0.0)


async def _terminate(service: Service, timeout_s: float) -> None:
    process = service.process
    if process is None or process.returncode is not None:
        return
    kill_process_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        kill_process_group(process)
        await process.wait()
