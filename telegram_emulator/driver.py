"""Client for the emulator's driver API: be the user (send, press) and read what the bot answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import ClientSession, ClientTimeout

from telegram_emulator.html_check import parse_html


def text_of(message: dict[str, Any]) -> str:
    """What the user reads: HTML messages parsed as Telegram renders them, others (plain, copies) as sent."""
    if message.get("parse_mode") == "HTML":
        return parse_html(message["html"]).text
    return message.get("text", "")


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's inline buttons, row after row."""
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


class EmulatorDriver:
    def __init__(self, base_url: str, token: str, session: ClientSession | None = None) -> None:
        self.base = f"{base_url.rstrip('/')}/_emulator/{token}"
        self._session = session
        self._own_session = session is None
        self.last_seen: dict[int, int] = {}  # chat id -> newest bot message id already returned

    async def __aenter__(self) -> EmulatorDriver:
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=180))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> ClientSession:
        if self._session is None:
            raise RuntimeError("use `async with EmulatorDriver(...)`")
        return self._session

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.base + path, json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"emulator {path}: {response.status} {await response.text()}")
            return await response.json()

    async def _get(self, path: str, **query: Any) -> Any:
        async with self.session.get(self.base + path, params={k: str(v) for k, v in query.items()}) as response:
            if response.status != 200:
                raise RuntimeError(f"emulator {path}: {response.status} {await response.text()}")
            return await response.json()

    # -- being the user
    async def send_text(self, user_id: int, text: str, **extra: Any) -> dict[str, Any]:
        return await self._post("/messages", {"user_id": user_id, "text": text, **extra})

    async def edit_text(self, user_id: int, message_id: int, text: str, **extra: Any) -> dict[str, Any]:
        """The user edits a text they sent earlier: an `edited_message` update with the same message id."""
        return await self._post(
            "/messages", {"user_id": user_id, "text": text, "edited": True, "message_id": message_id, **extra}
        )

    async def send(self, user_id: int, kind: str, **extra: Any) -> dict[str, Any]:
        return await self._post("/messages", {"user_id": user_id, "kind": kind, **extra})

    async def press(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        *,
        data: str | None = None,
        text: str | None = None,
        forged: bool = False,
    ) -> dict[str, Any]:
        """Presses a button of a bot message; `forged`: any data under any message id (a modified client)."""
        body: dict[str, Any] = {"user_id": user_id, "chat_id": chat_id, "message_id": message_id, "forged": forged}
        if data is not None:
            body["data"] = data
        if text is not None:
            body["text"] = text
        return await self._post("/press", body)

    async def raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/updates", update)

    async def create_chat(
        self, chat_id: int, title: str, *, is_forum: bool = False, members: list[int] | None = None
    ) -> dict[str, Any]:
        return await self._post(
            "/chats", {"id": chat_id, "title": title, "is_forum": is_forum, "members": members or []}
        )

    async def set_members(self, chat_id: int, *, add: Sequence[int] = (), remove: Sequence[int] = ()) -> list[int]:
        return await self._post(f"/chats/{chat_id}/members", {"add": list(add), "remove": list(remove)})

    async def block(self, chat_id: int, blocked: bool = True) -> None:
        await self._post("/block", {"chat_id": chat_id, "blocked": blocked})

    # -- reading what the bot did
    async def messages(self, chat_id: int, after_id: int = 0) -> list[dict[str, Any]]:
        return await self._get(f"/chats/{chat_id}/messages", after_id=after_id)

    async def wait_messages(
        self, chat_id: int, count: int = 1, *, after_id: int | None = None, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Waits for `count` new bot messages in the chat (after the last ones returned) and returns them."""
        after = self.last_seen.get(chat_id, 0) if after_id is None else after_id
        found = await self._get(f"/chats/{chat_id}/messages", after_id=after, count=count, timeout=timeout)
        if found:
            self.last_seen[chat_id] = max(self.last_seen.get(chat_id, 0), found[-1]["message_id"])
        return found

    async def ask(
        self, user_id: int, text: str, *, expect: int = 1, timeout: float = 30.0, **extra: Any
    ) -> list[dict[str, Any]]:
        """Sends a text as the user and returns the bot's replies to it (at least `expect` of them)."""
        sent = await self.send_text(user_id, text, **extra)
        return await self.wait_messages(user_id, expect, after_id=sent["message"]["message_id"], timeout=timeout)

    async def topic_messages(
        self, chat_id: int, topic: int, count: int = 1, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Waits until the bot has posted at least `count` messages in a forum topic; returns all of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in await self.messages(chat_id) if m.get("message_thread_id") == topic]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)

    async def topics(self, chat_id: int) -> dict[str, Any]:
        return await self._get(f"/chats/{chat_id}/topics")

    async def callback_answer(self, query_id: str) -> dict[str, Any]:
        return await self._get(f"/callbacks/{query_id}")

    async def wait_callback_answer(self, query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Waits until the bot has answered the callback query (answerCallbackQuery) and returns the answer."""
        deadline = time.monotonic() + timeout
        while True:
            answer = await self.callback_answer(query_id)
            if answer["answered"] or time.monotonic() > deadline:
                return answer
            await asyncio.sleep(0.05)

    async def info(self) -> dict[str, Any]:
        return await self._get("/info")

    async def add_fault(self, method: str, **fault: Any) -> None:
        await self._post("/faults", {"method": method, **fault})

    async def clear_faults(self) -> None:
        async with self.session.delete(self.base + "/faults") as response:
            response.raise_for_status()
