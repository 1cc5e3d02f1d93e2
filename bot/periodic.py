"""A background job run every few seconds in the gateway's event loop, surviving its own failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[Any]], interval_s: float) -> None:
        self.name, self.job, self.interval_s = name, job, interval_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.job()
            except Exception:  # noqa: BLE001 - the loop must survive anything and try again later
                log.exception("%s failed; trying again in %.0f s", self.name, self.interval_s)
            await asyncio.sleep(self.interval_s)
