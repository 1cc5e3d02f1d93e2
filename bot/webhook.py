"""Webhook mode: our own aiohttp server in front of the PTB Application, so that several replicas can share
the work (bot/inbox.py). A delivery is answered 200 only once its update is stored; when it cannot be
stored (Redis down) the answer is 503 and Telegram delivers it again later, so nothing is lost.

    POST /telegram   Telegram's deliveries (X-Telegram-Bot-Api-Secret-Token checked in constant time)
    GET  /health     for load balancers: 200 while this replica can store updates, 503 otherwise
    GET  /metrics    Prometheus, with `Authorization: Bearer <ASSISTANT_METRICS_TOKEN>` (without a token set: 401)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.inbox import Inbox
from core.api_headers import protect
from core.coordination import Coordination, store_errors
from core.hop_auth import Refusals, check_bearer
from core.metrics import REFUSED, metrics_response
from core.settings import Settings

log = logging.getLogger(__name__)
WEBHOOK_PATH = "telegram"
MAX_UPDATE_BYTES = 1 << 20  # Telegram's updates are far smaller; anything bigger is not from Telegram


def webhook_app(
    inbox: Inbox, coordination: Coordination, secret: str | None, metrics_token: str | None = None
) -> web.Application:
    refusals = Refusals("gateway /metrics", lambda reason: REFUSED.labels("/metrics", reason).inc())

    async def deliver(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if secret is not None and not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook delivery without the right secret token refused")
            REFUSED.labels(f"/{WEBHOOK_PATH}", "invalid" if given else "missing").inc()
            return web.json_response({"ok": False}, status=403)
        try:
            update: Any = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            await inbox.receive(update)
        except store_errors():  # the store is away: Telegram must deliver it again
            log.exception("update %s could not be stored; asking Telegram to deliver it again", update["update_id"])
            return web.json_response({"ok": False}, status=503)
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        ok = await coordination.ping()
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        reason = check_bearer(metrics_token, request.headers.get("Authorization"))
        if reason is not None:
            refusals.count(reason)
            return web.json_response({"error": "unauthenticated"}, status=401)
        return await metrics_response(request)

    app = protect(web.Application(client_max_size=MAX_UPDATE_BYTES))
    app.router.add_post(f"/{WEBHOOK_PATH}", deliver)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(
    application: Application, settings: Settings, coordination: Coordination, start: Any, stop: Any
) -> None:
    """Runs until SIGTERM/SIGINT. `start`/`stop` are the gateway's own start-up and shutdown steps."""
    if settings.webhook_url is None:
        raise ValueError("webhook mode needs ASSISTANT_WEBHOOK_URL")
    if settings.webhook_secret is None:  # anyone who found the URL could post updates as any user
        raise ValueError("webhook mode needs ASSISTANT_WEBHOOK_SECRET (`python -m assistant run` makes one)")
    url = f"{settings.webhook_url.rstrip('/')}/{WEBHOOK_PATH}"

    async def process(raw: dict[str, Any]) -> None:
        update = Update.de_json(raw, application.bot)
        if update is not None:
            await application.process_update(update)

    inbox = Inbox(coordination, process)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    runner = web.AppRunner(webhook_app(inbox, coordination, secret, token), access_log=None)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await application.initialize()
    try:
        await start(application)
        await application.start()
        await runner.setup()
        await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
        inbox.start()
        await application.bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=100,
        )
        log.info("webhook mode: listening on %s:%s", settings.webhook_listen, settings.webhook_port)
        await stopping.wait()
    finally:
        log.info("stopping: no new deliveries; answering what was started")
        await runner.cleanup()
        await inbox.stop()
        if application.running:
            await application.stop()
        await stop(application)
        await application.shutdown()
