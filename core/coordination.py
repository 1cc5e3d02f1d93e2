"""What replicas must share: "seen this update already", per-chat locks, rate counters, short-lived values,
small capped lists and per-chat queues. Two backends with one interface:

- `MemoryCoordination`: in this process (the embedded default; one gateway, one action server);
- `RedisCoordination`: Redis (`ASSISTANT_REDIS_URL`), for replicas on several machines.

Everything here expires: nothing of it is a record to keep (that is the database's job), and values may be
personal data (recent chat lines, vault entries), so they must not outlive their use.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections import deque
from typing import Protocol, cast

from core.settings import Settings


class Coordination(Protocol):
    async def first_time(self, key: str, ttl_s: float) -> bool:
        """True for the first caller with `key` within `ttl_s` (de-duplication)."""

    async def acquire(self, name: str, ttl_s: float) -> str | None:
        """A lock held until released or `ttl_s` passes: its token, or None if someone else holds it."""

    async def extend(self, name: str, token: str, ttl_s: float) -> bool: ...

    async def release(self, name: str, token: str) -> None: ...

    async def hits(self, key: str, window_s: float) -> int:
        """Counts this hit and returns the number of hits within the last `window_s` (sliding window)."""

    async def put(self, key: str, value: str, ttl_s: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def delete(self, *keys: str) -> None: ...

    async def append(self, key: str, value: str, keep: int, ttl_s: float) -> None:
        """Adds to a list that keeps its last `keep` items and expires `ttl_s` after the last append."""

    async def items(self, key: str) -> list[str]: ...

    async def enqueue(self, queue: str, position: int, value: str, once_for_s: float) -> bool:
        """Adds `value` at `position` (a queue is read in position order), unless that position was enqueued
        to that queue before, within `once_for_s`, even if it was dequeued since: False then. Atomic."""

    async def head(self, queue: str) -> tuple[int, str] | None: ...

    async def dequeue(self, queue: str, position: int) -> None: ...

    async def queues(self, prefix: str) -> list[str]:
        """Names of the non-empty queues starting with `prefix`."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


@functools.cache
def store_errors() -> tuple[type[Exception], ...]:
    """What a coordination store raises when it is away or failing: OSError (sockets, timeouts) and Redis's
    own errors. For `except store_errors():`, which Python evaluates only when an exception is being matched,
    so a process without Redis imports redis (0.15 s) only then, if ever."""
    from redis.exceptions import RedisError

    return (OSError, RedisError)


SWEEP_ABOVE = 10_000


class MemoryCoordination:
    def __init__(self) -> None:
        self._sweep_above = SWEEP_ABOVE
        self._expiry: dict[str, float] = {}
        self._values: dict[str, str] = {}
        self._lists: dict[str, deque[str]] = {}
        self._hits: dict[str, deque[float]] = {}
        self._queues: dict[str, dict[int, str]] = {}

    def _alive(self, key: str) -> bool:
        expires = self._expiry.get(key)
        if expires is not None and expires <= time.monotonic():
            self._expiry.pop(key, None)
            self._values.pop(key, None)
            self._lists.pop(key, None)
            return False
        return key in self._values or key in self._lists

    def _sweep(self) -> None:
        """Bounded memory without a timer: expired keys go once the keys have doubled since the last sweep.
        Not at every put past a fixed size: with many long-lived keys (a day's conversations) each put would
        scan them all."""
        if len(self._expiry) > self._sweep_above:
            for key in list(self._expiry):
                self._alive(key)
            self._sweep_above = max(SWEEP_ABOVE, 2 * len(self._expiry))

    async def first_time(self, key: str, ttl_s: float) -> bool:
        if self._alive(key):
            return False
        await self.put(key, "1", ttl_s)
        return True

    async def acquire(self, name: str, ttl_s: float) -> str | None:
        if self._alive(name):
            return None
        token = secrets.token_hex(8)
        await self.put(name, token, ttl_s)
        return token

    async def extend(self, name: str, token: str, ttl_s: float) -> bool:
        if await self.get(name) != token:
            return False
        self._expiry[name] = time.monotonic() + ttl_s
        return True

    async def release(self, name: str, token: str) -> None:
        if await self.get(name) == token:
            await self.delete(name)

    async def hits(self, key: str, window_s: float) -> int:
        now = time.monotonic()
        stamps = self._hits.setdefault(key, deque())
        stamps.append(now)
        while stamps and stamps[0] <= now - window_s:
            stamps.popleft()
        if len(self._hits) > 10_000:
            for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - 3600]:
                del self._hits[k]
        return len(stamps)

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        self._sweep()
        self._values[key] = value
        self._expiry[key] = time.monotonic() + ttl_s

    async def get(self, key: str) -> str | None:
        return self._values.get(key) if self._alive(key) else None

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)
            self._lists.pop(key, None)
            self._expiry.pop(key, None)
            self._queues.pop(key, None)

    async def append(self, key: str, value: str, keep: int, ttl_s: float) -> None:
        self._sweep()
        items = self._lists.get(key) if self._alive(key) else None
        if items is None or items.maxlen != keep:
            items = self._lists[key] = deque(items or (), maxlen=keep)
        items.append(value)
        self._expiry[key] = time.monotonic() + ttl_s

    async def items(self, key: str) -> list[str]:
        return list(self._lists.get(key, ())) if self._alive(key) else []

    async def enqueue(self, queue: str, position: int, value: str, once_for_s: float) -> bool:
        if not await self.first_time(f"seen:{queue}:{position}", once_for_s):
            return False
        self._queues.setdefault(queue, {})[position] = value
        return True

    async def head(self, queue: str) -> tuple[int, str] | None:
        entries = self._queues.get(queue)
        if not entries:
            return None
        position = min(entries)
        return position, entries[position]

    async def dequeue(self, queue: str, position: int) -> None:
        entries = self._queues.get(queue)
        if entries is not None:
            entries.pop(position, None)
            if not entries:
                del self._queues[queue]

    async def queues(self, prefix: str) -> list[str]:
        return [name for name, entries in self._queues.items() if entries and name.startswith(prefix)]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass


# Compare-and-delete / compare-and-extend: only the holder's token may release or extend a lock.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
# Non-empty queues are listed in an index set (KEYS[3]), so finding them costs the number of queues, not a
# SCAN of the whole keyspace (which holds a "seen" key per update for a day).
_ENQUEUE = """
if redis.call('set', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
  redis.call('sadd', KEYS[3], ARGV[4])
  return 1
end
return 0
"""
_DEQUEUE = """
redis.call('zremrangebyscore', KEYS[1], ARGV[1], ARGV[1])
if redis.call('zcard', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
"""
# The index's queues under a prefix; an entry whose queue is empty (removed by hand, say) is dropped.
_QUEUES = """
local found = {}
for _, name in ipairs(redis.call('smembers', KEYS[1])) do
  if string.sub(name, 1, string.len(ARGV[2])) == ARGV[2] then
    if redis.call('zcard', ARGV[1] .. name) > 0 then
      table.insert(found, name)
    else
      redis.call('srem', KEYS[1], name)
    end
  end
end
return found
"""
# Sliding window: one sorted set per key, scored by time; old hits are trimmed on every hit.
_HITS = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1] - ARGV[2])
redis.call('zadd', KEYS[1], ARGV[1], ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[2])
return redis.call('zcard', KEYS[1])
"""


class RedisCoordination:
    """Keys are prefixed (`namespace`) so one Redis can serve several deployments or test runs."""

    def __init__(self, url: str, namespace: str = "ma") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=3,
            health_check_interval=15,
            retry_on_timeout=True,
        )
        self._ns = namespace + ":"
        self._release = self._redis.register_script(_RELEASE)
        self._extend = self._redis.register_script(_EXTEND)
        self._hits = self._redis.register_script(_HITS)
        self._enqueue = self._redis.register_script(_ENQUEUE)
        self._dequeue = self._redis.register_script(_DEQUEUE)
        self._queues = self._redis.register_script(_QUEUES)
        self._index = self._k("queues:index")

    def _k(self, key: str) -> str:
        return self._ns + key

    async def first_time(self, key: str, ttl_s: float) -> bool:
        return bool(await self._redis.set(self._k(key), "1", nx=True, px=_ms(ttl_s)))

    async def acquire(self, name: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        return token if await self._redis.set(self._k(name), token, nx=True, px=_ms(ttl_s)) else None

    async def extend(self, name: str, token: str, ttl_s: float) -> bool:
        return bool(await self._extend(keys=[self._k(name)], args=[token, _ms(ttl_s)]))

    async def release(self, name: str, token: str) -> None:
        await self._release(keys=[self._k(name)], args=[token])

    async def hits(self, key: str, window_s: float) -> int:
        now_ms = int(time.time() * 1000)
        member = f"{now_ms}-{secrets.token_hex(4)}"
        return int(await self._hits(keys=[self._k(key)], args=[now_ms, _ms(window_s), member]))

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        await self._redis.set(self._k(key), value, px=_ms(ttl_s))

    # Replies are str (decode_responses=True), which redis-py's types cannot tell: hence the casts.
    async def get(self, key: str) -> str | None:
        return cast(str | None, await self._redis.get(self._k(key)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._k(k) for k in keys))

    async def append(self, key: str, value: str, keep: int, ttl_s: float) -> None:
        k = self._k(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(k, value)
            pipe.ltrim(k, -keep, -1)
            pipe.pexpire(k, _ms(ttl_s))
            await pipe.execute()

    async def items(self, key: str) -> list[str]:
        return cast(list[str], await self._redis.lrange(self._k(key), 0, -1))

    async def enqueue(self, queue: str, position: int, value: str, once_for_s: float) -> bool:
        # The member carries its position, so equal values at different positions stay distinct.
        return bool(
            await self._enqueue(
                keys=[self._k(queue), self._k(f"seen:{queue}:{position}"), self._index],
                args=[position, f"{position}:{value}", _ms(once_for_s), queue],
            )
        )

    async def head(self, queue: str) -> tuple[int, str] | None:
        found = cast(list[str], await self._redis.zrange(self._k(queue), 0, 0))
        if not found:
            return None
        position, _, value = found[0].partition(":")
        return int(position), value

    async def dequeue(self, queue: str, position: int) -> None:
        await self._dequeue(keys=[self._k(queue), self._index], args=[position, queue])

    async def queues(self, prefix: str) -> list[str]:
        return list(await self._queues(keys=[self._index], args=[self._ns, prefix]))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except store_errors():  # any of them means "not reachable"
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def coordination_from(settings: Settings) -> Coordination:
    if settings.redis_url:
        return RedisCoordination(settings.redis_url, settings.redis_namespace)
    return MemoryCoordination()
