"""Webhook updates, answered once and in order per chat, by whichever gateway replica is free.

Telegram (or a load balancer in front of several replicas) may deliver an update to any replica, retry a
delivery it thinks failed, and deliver a chat's messages to two replicas at once. So a delivery is only
acknowledged after the update is stored in the chat's queue (shared through `Coordination`: Redis when
there are replicas), a second delivery of the same update_id is dropped, and a chat's queue is drained by
one replica at a time, holding the chat's lock, oldest update first. A replica that dies mid-drain loses
its lock after `lock_ttl_s`; the others sweep for queues nobody drains and take them over.

The one window left: a replica that dies after answering an update and before removing it from the queue
makes the next replica answer it again. Removing it first would lose it instead; answering twice is the
lesser harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.coordination import Coordination, store_errors
from core.metrics import DUPLICATES
from core.periodic import Periodic
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)
QUEUE_PREFIX = "inbox:"

Process = Callable[[dict[str, Any]], Awaitable[None]]


def chat_key(update: dict[str, Any]) -> str:
    """The conversation an update belongs to: its chat, or its sender for chat-less updates."""
    for field, value in update.items():
        if field == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return str(chat["id"])
        sender = value.get("from") or value.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return f"user{sender['id']}"
    return "none"


class Inbox:
    def __init__(
        self,
        coordination: Coordination,
        process: Process,
        *,
        lock_ttl_s: float = 30.0,
        seen_ttl_s: float = 86_400.0,
        sweep_every_s: float = 1.0,
    ) -> None:
        self._coordination = coordination
        self._process = process
        self._lock_ttl_s = lock_ttl_s
        self._seen_ttl_s = seen_ttl_s
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._sweeper = Periodic("inbox sweep", self.sweep, sweep_every_s)
        self.duplicates = 0

    def start(self) -> None:
        self._sweeper.start()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finishes the answers being made (for up to `grace_s`) and leaves the rest queued for others."""
        self._stopping = True
        await self._sweeper.stop()
        tasks = list(self._draining.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_s)
            await asyncio.gather(*(cancel_and_wait(task) for task in late))

    async def receive(self, update: dict[str, Any]) -> bool:
        """Stores a delivered update (raises if it cannot: then the delivery must fail, so it is retried).
        False for a delivery of an update seen before."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            raise ValueError("an update without an integer update_id")
        queue = QUEUE_PREFIX + chat_key(update)
        if not await self._coordination.enqueue(
            queue, update_id, json.dumps(update, ensure_ascii=False), self._seen_ttl_s
        ):
            self.duplicates += 1
            DUPLICATES.inc()
            log.info("update %s delivered again: not answered twice", update_id)
            return False
        self.kick(queue)
        return True

    def kick(self, queue: str) -> None:
        if queue not in self._draining and not self._stopping:
            self._draining[queue] = asyncio.create_task(self._drain(queue), name=f"drain {queue}")

    async def sweep(self) -> None:
        """Queues whose drainer died or finished just before something arrived."""
        for queue in await self._coordination.queues(QUEUE_PREFIX):
            self.kick(queue)

    async def _drain(self, queue: str) -> None:
        try:
            drained = await self._drain_once(queue)
        except store_errors() as error:  # the store is down: the queue waits for the sweeper
            log.warning("draining %s stopped (%s); the sweep will take it up again", queue, type(error).__name__)
            return
        finally:
            self._draining.pop(queue, None)
        # Something may have arrived between the last look and the release, while another replica's kick
        # found the lock taken (this task is unregistered first, or the kick would find it still draining).
        # Only a drainer looks again: one that found the lock taken leaves it to the holder.
        try:
            if drained and await self._coordination.head(queue) is not None:
                self.kick(queue)
        except store_errors():  # the sweep will see it
            pass

    async def _drain_once(self, queue: str) -> bool:
        """Answers the queue's updates in order while holding its lock; False if someone else holds it."""
        lock = f"lock:{queue}"
        token = await self._coordination.acquire(lock, self._lock_ttl_s)
        if token is None:
            return False  # another replica is draining it, and will look again before it lets go
        try:
            while not self._stopping and (head := await self._coordination.head(queue)) is not None:
                position, raw = head
                async with self._holding(lock, token):
                    try:
                        await self._process(json.loads(raw))
                    except Exception:  # whatever went wrong, one bad update must not block the chat (logged)
                        log.exception("update %s could not be processed; dropped", position)
                await self._dequeue_surely(queue, position)
        finally:
            await self._coordination.release(lock, token)
        return True

    async def _dequeue_surely(self, queue: str, position: int) -> None:
        """Removes an answered update, retrying while the store is briefly away: leaving it queued would
        make it answered again once the store is back (the lock is still ours for a while)."""
        deadline = time.monotonic() + self._lock_ttl_s / 2
        delay = 0.1
        while True:
            try:
                await self._coordination.dequeue(queue, position)
                return
            except store_errors():
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    @contextlib.asynccontextmanager
    async def _holding(self, lock: str, token: str):
        """Keeps the chat's lock alive while a slow answer is being made."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._lock_ttl_s / 3)
                if not await self._coordination.extend(lock, token, self._lock_ttl_s):
                    log.warning("lost the lock on %s while answering", lock)
                    return

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            await cancel_and_wait(renewer)
