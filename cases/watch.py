"""Following subscribed applications: polls the case API for each active subscription and tells its user once
when the status changes, through a delivery the caller provides (the gateway's one path to users)."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable

from cases.client import CaseApiClient, Found, NotFound
from cases.subscriptions import FINAL_STATUSES, Subscriptions
from core.protocol import CaseStatus

log = logging.getLogger(__name__)


class Delivery(enum.Enum):
    SENT = "sent"
    BLOCKED = "blocked"  # the user blocked the bot: nothing more to follow for them
    FAILED = "failed"  # not delivered this time (logged by the deliverer)


Notify = Callable[[int, str, CaseStatus], Awaitable[Delivery]]  # (chat id, language, the new status)


class StatusWatch:
    def __init__(self, subscriptions: Subscriptions, cases: CaseApiClient, notify: Notify) -> None:
        self.subscriptions, self.cases, self.notify = subscriptions, cases, notify

    async def run_once(self) -> int:
        """Checks every active subscription once; returns how many users were told of a change."""
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
            delivery = await self.notify(subscription.chat_id, subscription.language, result.application.message())
            notified += delivery is Delivery.SENT
            if delivery is Delivery.BLOCKED or new_status in FINAL_STATUSES:
                await self.subscriptions.remove(subscription.id)
        return notified

    async def close(self) -> None:
        await self.cases.close()
