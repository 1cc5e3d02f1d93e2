"""Pushes a message when a subscribed application's status changes (polling the case API)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from bot.periodic import Periodic
from bot.rendering import render_case_status, say, split_html
from cases.client import CaseApiClient, Found, NotFound
from cases.subscriptions import FINAL_STATUSES, Subscriptions

log = logging.getLogger(__name__)


class StatusNotifier:
    def __init__(self, bot: Bot, subscriptions: Subscriptions, cases: CaseApiClient, interval_s: float) -> None:
        self.bot, self.subscriptions, self.cases = bot, subscriptions, cases
        self._poller = Periodic("status polling", self.run_once, interval_s)

    def start(self) -> None:
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()
        await self.cases.close()

    async def run_once(self) -> int:
        """Checks every active subscription once; returns how many users were notified."""
        notified = 0
        for subscription in await self.subscriptions.active():
            result = await self.cases.status(subscription.access_token)
            if isinstance(result, NotFound):  # the token was revoked: nothing more to follow
                await self.subscriptions.remove(subscription.id)
                continue
            if not isinstance(result, Found) or result.application.status == subscription.last_status:
                continue
            new_status = result.application.status
            if not await self.subscriptions.claim_change(subscription.id, subscription.last_status, new_status):
                continue  # another poller told the user already
            language = subscription.language
            text = (
                "🔔 "
                + say(language, "status_changed")
                + "\n\n"
                + render_case_status(language, result.application.message())
            )
            try:
                for part in split_html(text):
                    await self.bot.send_message(subscription.chat_id, part, parse_mode=ParseMode.HTML)
                notified += 1
            except Forbidden:
                await self.subscriptions.remove(subscription.id)  # the user blocked the bot
            except TelegramError as error:
                log.error("could not deliver a status notification: %s", error)
            if new_status in FINAL_STATUSES:
                await self.subscriptions.remove(subscription.id)
        return notified
