"""Prometheus metrics of the action server: GET /metrics beside rasa-sdk's own routes, and every action run
counted and timed.

rasa-sdk builds its Sanic app itself, in a worker process that unpickles the executor. The executor is
`MeasuredExecutor`, defined here, so unpickling it imports this module in the worker, and importing it
registers the plugin that adds the route (rasa-sdk's hook for extensions), and the one that lets only the
engine and Prometheus in (actions/authentication.py: /metrics wants `ASSISTANT_METRICS_TOKEN` as a bearer
token). Labels are fixed sets: the domain's action names (anything else is "other", so a caller cannot grow
the label set) and the outcome.
"""

from __future__ import annotations

import time
from typing import Any

import pluggy
import yaml
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, raw

import actions.authentication  # noqa: F401 - installs the authentication plugin wherever the executor goes
from core.settings import PROJECT_ROOT

hookimpl = pluggy.HookimplMarker("rasa_sdk")

ACTION_RUNS = Counter(
    "assistant_action_runs_total", "Action calls from the engine, by action and outcome", ["action", "outcome"]
)
ACTION_SECONDS = Histogram(
    "assistant_action_seconds",
    "Time to run an action, as the engine waits for it",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)


def domain_actions() -> frozenset[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return frozenset(domain.get("actions") or ())


DOMAIN_ACTIONS = domain_actions()


class MeasuredExecutor(ActionExecutor):
    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        name = action_call.get("next_action")
        action = name if name in DOMAIN_ACTIONS else "other"
        outcome, started = "error", time.perf_counter()
        try:
            result = await super().run(action_call, *args, **kwargs)
            outcome = "ok"
            return result
        except ActionNotFoundException:
            outcome = "not_found"
            raise
        except ActionExecutionRejection:
            outcome = "rejected"
            raise
        finally:
            ACTION_RUNS.labels(action, outcome).inc()
            ACTION_SECONDS.labels(action).observe(time.perf_counter() - started)


class MetricsRoute:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        @app.get("/metrics")
        async def metrics(_: Request) -> HTTPResponse:
            return raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def _install() -> None:
    manager = plugin_manager()
    if not any(isinstance(p, MetricsRoute) for p in manager.get_plugins()):
        manager.register(MetricsRoute())


_install()
