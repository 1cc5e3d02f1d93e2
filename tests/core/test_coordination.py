"""The coordination primitives replicas share, on both backends (in-process and a real Redis)."""

from __future__ import annotations

import asyncio

from core.coordination import RedisCoordination


async def test_first_time_is_true_once_per_key(coordination):
    assert await coordination.first_time("seen:1", 60)
    assert not await coordination.first_time("seen:1", 60)
    assert await coordination.first_time("seen:2", 60)


async def test_things_expire(coordination):
    assert await coordination.first_time("short", 0.05)
    await coordination.put("value", "x", 0.05)
    await coordination.append("lines", "a", keep=3, ttl_s=0.05)
    await asyncio.sleep(0.12)
    assert await coordination.first_time("short", 60)
    assert await coordination.get("value") is None
    assert await coordination.items("lines") == []


async def test_a_lock_has_one_holder_and_only_the_holder_releases_it(coordination):
    token = await coordination.acquire("lock:chat", 60)
    assert token is not None
    assert await coordination.acquire("lock:chat", 60) is None
    await coordination.release("lock:chat", "not-the-token")
    assert await coordination.acquire("lock:chat", 60) is None
    assert await coordination.extend("lock:chat", token, 60)
    assert not await coordination.extend("lock:chat", "not-the-token", 60)
    await coordination.release("lock:chat", token)
    assert await coordination.acquire("lock:chat", 60) is not None


async def test_an_abandoned_lock_expires(coordination):
    assert await coordination.acquire("lock:dead", 0.05) is not None
    await asyncio.sleep(0.12)
    assert await coordination.acquire("lock:dead", 60) is not None


async def test_hits_count_a_sliding_window(coordination):
    counts = [await coordination.hits("flood:1", 0.2) for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    assert await coordination.hits("flood:2", 0.2) == 1  # per key
    await asyncio.sleep(0.25)
    assert await coordination.hits("flood:1", 0.2) == 1


async def test_lists_keep_their_last_items(coordination):
    for i in range(5):
        await coordination.append("recent:1", f"line {i}", keep=3, ttl_s=60)
    assert await coordination.items("recent:1") == ["line 2", "line 3", "line 4"]
    await coordination.delete("recent:1")
    assert await coordination.items("recent:1") == []


async def test_queues_are_read_in_position_order_and_take_a_position_once(coordination):
    assert await coordination.enqueue("inbox:7", 12, '{"b": 1}', 60)
    assert await coordination.enqueue("inbox:7", 10, '{"a": 1}', 60)
    assert await coordination.enqueue("inbox:7", 11, '{"a": 1}', 60)  # equal values stay distinct
    assert not await coordination.enqueue("inbox:7", 10, '{"again": 1}', 60)
    assert await coordination.enqueue("inbox:8", 13, "x", 60)
    assert sorted(await coordination.queues("inbox:")) == ["inbox:7", "inbox:8"]
    assert await coordination.head("inbox:7") == (10, '{"a": 1}')
    await coordination.dequeue("inbox:7", 10)
    assert await coordination.head("inbox:7") == (11, '{"a": 1}')
    # Taken once even after it left the queue: a late retry of a delivery is not queued again.
    assert not await coordination.enqueue("inbox:7", 10, '{"a": 1}', 60)
    for position in (11, 12):
        await coordination.dequeue("inbox:7", position)
    assert await coordination.head("inbox:7") is None
    assert await coordination.queues("inbox:") == ["inbox:8"]
    assert await coordination.queues("other:") == []


async def test_a_queue_removed_by_hand_is_no_longer_listed(coordination):
    assert await coordination.enqueue("inbox:9", 1, "x", 60)
    await coordination.delete("inbox:9")
    assert await coordination.queues("inbox:") == []
    assert await coordination.enqueue("inbox:9", 2, "y", 60)  # and it comes back with its next update
    assert await coordination.queues("inbox:") == ["inbox:9"]


async def test_redis_that_is_not_there_is_reported_not_raised():
    store = RedisCoordination("redis://127.0.0.1:1/0")
    try:
        assert not await store.ping()
    finally:
        await store.close()


async def test_the_memory_store_forgets_expired_keys_without_rescanning_live_ones_at_every_put(monkeypatch):
    """Memory stays bounded (expired keys go), and many long-lived keys (a day's conversations, 2 days each)
    do not make every put scan them all: the scans add up to a few times the keys, not keys squared."""
    import time

    from core.coordination import SWEEP_ABOVE, MemoryCoordination

    store = MemoryCoordination()
    looked_at = 0
    alive = store._alive

    def counting(key: str) -> bool:
        nonlocal looked_at
        looked_at += 1
        return alive(key)

    monkeypatch.setattr(store, "_alive", counting)
    for n in range(3 * SWEEP_ABOVE):
        await store.put(f"long:{n}", "1", 2 * 86400)
    assert looked_at < 5 * 3 * SWEEP_ABOVE  # every put scanning past 10 000 keys would be 2 × 10⁸

    clock = time.monotonic() + 3 * 86400  # two days and more later: all of them expired
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    for n in range(2 * 3 * SWEEP_ABOVE + 1):
        await store.put(f"short:{n}", "1", 1)
    assert not any(key.startswith("long:") for key in store._expiry)
