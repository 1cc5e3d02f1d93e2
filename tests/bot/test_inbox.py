"""Webhook updates through the inbox: each answered once, in order per chat, by whichever replica is free.
Two replicas are two Inbox objects sharing one coordination backend (the same Redis, for the Redis case)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable

import pytest

from bot.inbox import QUEUE_PREFIX, Inbox, chat_key


def message(update_id: int, chat: int) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "text": f"m{update_id}",
            "chat": {"id": chat, "type": "private"},
        },
    }


def test_updates_belong_to_their_chat_or_sender():
    assert chat_key(message(1, 42)) == "42"
    assert (
        chat_key({"update_id": 2, "callback_query": {"id": "q", "from": {"id": 7}, "message": {"chat": {"id": 42}}}})
        == "42"
    )
    assert chat_key({"update_id": 3, "inline_query": {"id": "q", "from": {"id": 7}, "query": ""}}) == "user7"
    assert chat_key({"update_id": 4, "poll": {"id": "p"}}) == "none"


class Recorder:
    """Processes slowly, remembers who answered what, and notices two answers at once in one chat."""

    def __init__(self) -> None:
        self.answered: dict[str, list[int]] = defaultdict(list)
        self.busy: set[str] = set()
        self.overlaps = 0
        self.by_replica: dict[str, int] = defaultdict(int)

    def replica(self, name: str):
        async def process(update: dict) -> None:
            chat = chat_key(update)
            if chat in self.busy:
                self.overlaps += 1
            self.busy.add(chat)
            await asyncio.sleep(random.uniform(0, 0.004))
            self.answered[chat].append(update["update_id"])
            self.by_replica[name] += 1
            self.busy.discard(chat)

        return process


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_two_replicas_answer_each_update_once_and_in_order(coordination):
    recorder = Recorder()
    replicas = [Inbox(coordination, recorder.replica(name), sweep_every_s=0.05) for name in ("a", "b")]
    for replica in replicas:
        replica.start()
    rng = random.Random(3)
    updates = [message(1000 + i, 500 + rng.randrange(20)) for i in range(400)]
    try:
        # Deliveries in update order, each to a random replica, a tenth of them delivered a second time
        # to the other replica (Telegram retrying): concurrently across chats, like a load balancer would.
        # A chat's next update is sent once its previous one was acknowledged (stored): two of a chat's updates
        # delivered at the same moment have no order to keep but the scheduler's (which failed under load).
        deliveries: list[Awaitable[bool]] = []
        chats: set[str] = set()
        for update in updates:
            if chat_key(update) in chats or len(deliveries) >= 20:
                await asyncio.gather(*deliveries)
                deliveries, chats = [], set()
            chats.add(chat_key(update))
            first = rng.randrange(2)
            deliveries.append(replicas[first].receive(update))
            if rng.random() < 0.1:
                deliveries.append(replicas[1 - first].receive(dict(update)))
        await asyncio.gather(*deliveries)
        await wait_until(lambda: sum(map(len, recorder.answered.values())) >= len(updates))
        await asyncio.sleep(0.2)  # anything answered twice would show up now
    finally:
        for replica in replicas:
            await replica.stop()
    expected = defaultdict(list)
    for update in updates:
        expected[chat_key(update)].append(update["update_id"])
    assert dict(recorder.answered) == dict(expected)  # once each, in order per chat
    assert recorder.overlaps == 0
    assert sum(r.duplicates for r in replicas) > 10
    assert min(recorder.by_replica.values()) > 0  # both replicas did work
    assert await coordination.queues(QUEUE_PREFIX) == []


async def test_a_replica_that_died_mid_drain_is_replaced_after_its_lock_expires(coordination):
    recorder = Recorder()
    queue = QUEUE_PREFIX + "77"
    # The dead replica stored two updates and took the chat's lock, then vanished.
    await coordination.enqueue(queue, 1, '{"update_id": 1, "message": {"chat": {"id": 77}}}', 60)
    await coordination.enqueue(queue, 2, '{"update_id": 2, "message": {"chat": {"id": 77}}}', 60)
    assert await coordination.acquire(f"lock:{queue}", 0.3) is not None
    survivor = Inbox(coordination, recorder.replica("b"), sweep_every_s=0.05)
    survivor.start()
    try:
        await asyncio.sleep(0.15)
        assert recorder.answered == {}  # the lock still holds
        await wait_until(lambda: recorder.answered.get("77") == [1, 2], timeout=5)
    finally:
        await survivor.stop()


async def test_an_update_that_fails_is_logged_and_does_not_block_its_chat(coordination, caplog):
    answered = []

    async def process(update: dict) -> None:
        if update["update_id"] == 1:
            raise RuntimeError("boom")
        answered.append(update["update_id"])

    inbox = Inbox(coordination, process, sweep_every_s=0.05)
    inbox.start()
    try:
        assert await inbox.receive(message(1, 9))
        assert await inbox.receive(message(2, 9))
        await wait_until(lambda: answered == [2])
    finally:
        await inbox.stop()
    assert "could not be processed" in caplog.text


async def test_a_delivery_without_an_update_id_is_refused(coordination):
    inbox = Inbox(coordination, Recorder().replica("a"))
    with pytest.raises(ValueError, match="without an integer update_id"):
        await inbox.receive({"message": {}})


async def test_an_answered_update_is_removed_even_if_the_store_blinks(caplog):
    """Redis gone for a moment right after an answer: the update must not stay queued (and be answered
    again once Redis is back)."""
    from core.coordination import MemoryCoordination

    class Blinking(MemoryCoordination):
        failures = 3

        async def dequeue(self, queue: str, position: int) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("Redis is restarting")
            await super().dequeue(queue, position)

    store = Blinking()
    recorder = Recorder()
    inbox = Inbox(store, recorder.replica("a"), sweep_every_s=0.05)
    inbox.start()
    try:
        assert await inbox.receive(message(1, 5))
        assert await inbox.receive(message(2, 5))
        await wait_until(lambda: recorder.answered.get("5") == [1, 2])
        await asyncio.sleep(0.3)  # sweeps come and go: nothing is answered twice
    finally:
        await inbox.stop()
    assert recorder.answered["5"] == [1, 2] and store.failures == 0
