"""The last lines of each chat, kept briefly in memory so a ticket starts with the conversation so far.

Only the gateway's memory holds them (never logs, never the engine's tracker), for at most `ttl_s` after a
chat's last line; a ticket copies them into its transcript when the chat is handed to people.
"""

from __future__ import annotations

import time
from collections import deque


class RecentLines:
    def __init__(self, max_lines: int = 12, ttl_s: float = 3600.0, max_chars: int = 600) -> None:
        self.max_lines, self.ttl_s, self.max_chars = max_lines, ttl_s, max_chars
        self._chats: dict[int, tuple[float, deque[tuple[str, str]]]] = {}

    def add(self, chat_id: int, author: str, text: str) -> None:
        self._expire()
        text = text if len(text) <= self.max_chars else text[: self.max_chars - 1] + "…"
        _, lines = self._chats.pop(chat_id, (0.0, deque(maxlen=self.max_lines)))
        lines.append((author, text))
        self._chats[chat_id] = (time.monotonic(), lines)  # re-inserted: the dict stays ordered by last use

    def take(self, chat_id: int) -> list[tuple[str, str]]:
        """The chat's lines, forgotten here once handed over."""
        self._expire()
        _, lines = self._chats.pop(chat_id, (0.0, deque()))
        return list(lines)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl_s
        while self._chats:
            chat_id, (last, _) = next(iter(self._chats.items()))
            if last >= cutoff:
                break
            del self._chats[chat_id]
