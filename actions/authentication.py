"""Who may call the action server: the engine, with its hop signature (core/hop_auth.py), on every route
but /health; Prometheus, with the metrics bearer token, on /metrics. Anything else gets 401 and is counted in
`assistant_refused_requests_total{endpoint,reason}`.

A rasa-sdk plugin like the metrics route (actions/metrics.py imports this module, so the worker that
unpickles the executor installs both). The worker builds its settings itself: the hook gets only the app.
"""

from __future__ import annotations

import pluggy
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from core.hop_auth import HopGuard, Refusals, check_bearer
from core.metrics import REFUSED  # one definition per registry: a process may import both
from core.settings import Settings

hookimpl = pluggy.HookimplMarker("rasa_sdk")

OPEN = frozenset({"/health"})  # says only "ok"
ENDPOINTS = frozenset({"/webhook", "/metrics", "/actions"})  # labels: anything else is "other"


class Authentication:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        settings = self._settings or Settings()
        secret, token = settings.actions_hop_secret, settings.metrics_token
        engine = HopGuard("engine -> action server", secret.get_secret_value() if secret else None)
        metrics_token = token.get_secret_value() if token else None
        prometheus = Refusals("action server /metrics")

        async def authenticate(request: Request) -> HTTPResponse | None:
            if request.path in OPEN:
                return None
            if request.path == "/metrics":
                reason = check_bearer(metrics_token, request.headers.get("Authorization"))
                if reason is not None:
                    prometheus.count(reason)
            else:
                await request.receive_body()  # a no-op: Sanic has read it for the handler
                reason = engine.refusal(request.headers, request.body)
            if reason is None:
                return None
            REFUSED.labels(request.path if request.path in ENDPOINTS else "other", reason).inc()
            return json({"error": "unauthenticated"}, status=401)

        app.register_middleware(authenticate, "request")


def install(settings: Settings | None = None) -> None:
    manager = plugin_manager()
    if not any(isinstance(p, Authentication) for p in manager.get_plugins()):
        manager.register(Authentication(settings))


install()
