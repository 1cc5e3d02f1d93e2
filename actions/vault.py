"""Short-lived storage for what the status form collects, so the engine's slots hold only references.

The application number and the verification data are needed for one lookup, a few turns after they are
typed. Keeping them in Rasa slots would store them in the tracker; here the slots get `ref:<random>` and
the values stay in this process's memory for at most `ttl_s`, and are deleted after the lookup.
(The scale-out configuration replaces this with Redis and the same interface.)
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

REF_PREFIX = "ref:"


@dataclass
class _Item:
    owner: str
    value: str
    expires: float


class Vault:
    def __init__(self, ttl_s: float = 900.0) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, _Item] = {}

    def put(self, owner: str, value: str) -> str:
        self._expire()
        ref = REF_PREFIX + secrets.token_urlsafe(12)
        self._items[ref] = _Item(owner, value, time.monotonic() + self.ttl_s)
        return ref

    def get(self, owner: str, ref: str | None) -> str | None:
        """The value behind `ref`, only for the conversation that stored it."""
        self._expire()
        item = self._items.get(ref or "")
        return item.value if item is not None and item.owner == owner else None

    def forget(self, owner: str) -> None:
        for ref in [ref for ref, item in self._items.items() if item.owner == owner]:
            del self._items[ref]

    def _expire(self) -> None:
        now = time.monotonic()
        for ref in [ref for ref, item in self._items.items() if item.expires < now]:
            del self._items[ref]


def is_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith(REF_PREFIX)
