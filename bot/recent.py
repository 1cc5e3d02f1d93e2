"""The last lines of each chat, kept briefly so a ticket starts with the conversation so far.

Only the coordination store holds them (this process's memory, or Redis shared by the gateway replicas;
never logs, never the engine's tracker), for at most `ttl_s` after a chat's last line; a ticket copies them
into its transcript when the chat is handed to people, and they are deleted then.
"""

from __future__ import annotations

import json

from core.coordination import Coordination


class RecentLines:
    def __init__(self, store: Coordination, max_lines: int = 12, ttl_s: float = 3600.0, max_chars: int = 600) -> None:
        self.store = store
        self.max_lines, self.ttl_s, self.max_chars = max_lines, ttl_s, max_chars

    async def add(self, chat_id: int, author: str, text: str) -> None:
        text = text if len(text) <= self.max_chars else text[: self.max_chars - 1] + "…"
        await self.store.append(
            f"recent:{chat_id}", json.dumps([author, text], ensure_ascii=False), self.max_lines, self.ttl_s
        )

    async def take(self, chat_id: int) -> list[tuple[str, str]]:
        """The chat's lines, forgotten once handed over."""
        key = f"recent:{chat_id}"
        lines = [tuple(json.loads(item)) for item in await self.store.items(key)]
        await self.store.delete(key)
        return lines
