"""The gateway's side of status subscriptions: cases/watch.py polls the case API, and each change reaches its
user here, rendered in their language and sent through the one delivery path (bot/delivery.py)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import Forbidden, TelegramError

from bot.delivery import deliver
from bot.rendering import Outgoing, render_case_status, say, split_all
from cases.client import CaseApiClient
from cases.subscriptions import Subscriptions
from cases.watch import Delivery, StatusWatch
from core.periodic import Periodic
from core.protocol import CaseStatus

log = logging.getLogger(__name__)


class StatusNotifier:
    def __init__(self, bot: Bot, subscriptions: Subscriptions, cases: CaseApiClient, interval_s: float) -> None:
        self.bot = bot
        self.watch = StatusWatch(subscriptions, cases, self.notify)
        self._poller = Periodic("status polling", self.watch.run_once, interval_s)

    def start(self) -> None:
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()
        await self.watch.close()

    async def run_once(self) -> int:
        return await self.watch.run_once()

    async def notify(self, chat_id: int, language: str, status: CaseStatus) -> Delivery:
        text = "🔔 " + say(language, "status_changed") + "\n\n" + render_case_status(language, status)
        try:
            for part in split_all([Outgoing(text)]):
                await deliver(self.bot, chat_id, part, quiet_if_blocked=False)
        except Forbidden:
            return Delivery.BLOCKED
        except TelegramError as error:
            log.error("could not deliver a status notification: %s", error)
            return Delivery.FAILED
        return Delivery.SENT
