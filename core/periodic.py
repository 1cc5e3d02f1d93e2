"""A background job run every few seconds in a service's event loop, surviving its own failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[Any]], interval_s: float) -> None:
        self.name, self.job, self.interval_s = name, job, interval_s
        self._task: asyncio.Task | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.job()
            except Exception:  # any job's failure: the loop must survive it and try again later (logged)
                if not self._stopping:  # while stopping, the failure may be a swallowed cancellation
                    log.exception("%s failed; trying again in %.0f s", self.name, self.interval_s)
            if self._stopping:
                return
            await asyncio.sleep(self.interval_s)
