"""Short-lived storage for what the status form collects, so the engine's slots hold only references.

The application number and the verification data are needed for one lookup, a few turns after they are
typed. Keeping them in Rasa slots would store them in the tracker; here the slots get `ref:<random>` and
the values stay in the coordination store (this process's memory, or Redis shared by action-server
replicas) for at most `ttl_s`, and are deleted after the lookup.
"""

from __future__ import annotations

import secrets
from typing import TypeGuard

from core.coordination import Coordination

REF_PREFIX = "ref:"
MAX_REFS = 16  # per conversation: a form collects two; more means an abandoned form was filled again


class Vault:
    def __init__(self, store: Coordination, ttl_s: float = 900.0) -> None:
        self.store, self.ttl_s = store, ttl_s

    async def put(self, owner: str, value: str) -> str:
        token = secrets.token_urlsafe(12)
        await self.store.put(f"vault:{owner}:{token}", value, self.ttl_s)
        await self.store.append(f"vault-refs:{owner}", token, MAX_REFS, self.ttl_s)
        return REF_PREFIX + token

    async def get(self, owner: str, ref: str | None) -> str | None:
        """The value behind `ref`, only for the conversation that stored it."""
        if not is_ref(ref):
            return None
        return await self.store.get(f"vault:{owner}:{ref[len(REF_PREFIX) :]}")

    async def forget(self, owner: str) -> None:
        tokens = await self.store.items(f"vault-refs:{owner}")
        await self.store.delete(*(f"vault:{owner}:{t}" for t in tokens), f"vault-refs:{owner}")


def is_ref(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(REF_PREFIX)
