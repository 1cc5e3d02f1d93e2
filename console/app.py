"""Assembling the console's services: database, curation, login, background retrainer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from analytics.report import Reports
from cases.lockout import Lockout
from console import (
    accounts,
    entries,
    lockouts,
    model_server,
    overview,
    tickets,
    training_page,
    unanswered,
    upkeep,
)
from console.auth import StaffAuth, ip_of
from console.web import Console, make_app
from core.data_key import sealer
from core.secret_key import secret_key
from core.settings import Settings
from handoff.service import Handoff
from knowledge.curation import Actor, Curation
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from knowledge.unanswered import UnansweredLog
from knowledge.upkeep import Upkeep
from training.model_store import ModelStore
from training.publishing import publish
from training.retraining import Reload, Retrainer
from training.trainer import TrainingResult

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_console(settings: Settings, reload: Reload | None = None) -> AsyncIterator[Console]:
    database = await open_seeded(settings)
    models = ModelStore(database.sessions)

    async def roll_out(result: TrainingResult, run_id: int) -> None:
        await publish(models, result, f"training run {run_id}", run_id=run_id)
        await models.prune(keep=settings.models_kept)

    retrainer = Retrainer(settings, database.sessions, reload or roll_out, models.pointer)

    async def on_published(key: str, variants_changed: bool, actor: Actor) -> None:
        if variants_changed:
            await retrainer.request(actor.username)

    await retrainer.start()
    try:
        yield Console(
            settings,
            StaffAuth(database.sessions),
            Curation(database.sessions, on_published),
            KnowledgeBase(database.sessions),
            retrainer,
            UnansweredLog(database.sessions),
            Handoff(database.sessions, sealer(settings)),
            Lockout(database.sessions, secret_key(settings)),
            Upkeep(database.sessions),
            models,
            Reports(database.sessions),
        )
    finally:
        await retrainer.stop()
        await database.close()


def proxy_warning(settings: Settings) -> str | None:
    """What to tell an operator whose console listens beyond loopback without a word about proxies: behind
    one, every client would count as the proxy's single address, so ten wrong logins by anyone would pause
    everyone's (and the account lock, which spares known addresses, would spare everyone). Saying
    `ASSISTANT_CONSOLE_TRUSTED_PROXIES=[]` (staff connect directly) silences it."""
    host = settings.console_host
    loopback = host == "localhost" or ((ip := ip_of(host)) is not None and ip.is_loopback)
    if loopback or settings.console_trusted_proxies is not None:
        return None
    return (
        f"the console listens on {host or 'every address'} and ASSISTANT_CONSOLE_TRUSTED_PROXIES is not set: behind "
        "a reverse proxy every client counts as the proxy's one address, and ten wrong logins by anyone pause "
        "everyone's for 15 minutes. Set it to the proxy's addresses or networks, or to [] if staff connect "
        "directly (docs/operations.md, 'Staff logins')"
    )


def build(settings: Settings, reload: Reload | None = None) -> web.Application:
    if warning := proxy_warning(settings):
        log.error(warning)
    app = make_app(lambda: open_console(settings, reload), settings.console_trusted_proxies or ())
    pages = (overview, entries, unanswered, training_page, tickets, accounts, lockouts, upkeep, model_server)
    app.add_routes([route for page in pages for route in page.ROUTES])  # here: the pages build on console.web
    return app
