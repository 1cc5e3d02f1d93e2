"""A chat in the terminal, through the local Telegram emulator: type as a user, see the bot's replies.

The terminal is just another Telegram client here: messages go through the emulator to the real gateway,
so what you see is what a Telegram user would see (minus the pictures).
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from typing import Any

from assistant.launcher import DEMO_OFFICERS_CHAT, DEMO_STAFF_MEMBER, DEMO_SUPPORT_CHAT
from telegram_emulator.driver import EmulatorDriver

USER_ID = 100_001
BOLD, ITALIC, DIM, RESET = "\033[1m", "\033[3m", "\033[2m", "\033[0m"
KINDS = ("sticker", "photo", "voice", "document", "location", "contact", "video")
HELP = (
    "Type a message and press Enter.  /start, /help, /language are bot commands.\n"
    f"  :1, :2 …   press a button of the last message     :{' :'.join(KINDS)}   send that instead of text\n"
    "  :staff TEXT   answer as a staff member in your ticket's topic (after /person); :staff /resolve ends it\n"
    "  :quit      leave (Ctrl-C stops everything)"
)


def to_terminal(text_html: str, color: bool) -> str:
    def tag(match: re.Match[str]) -> str:
        if not color:
            return ""
        name = match.group(2).lower()
        if match.group(1):
            return RESET
        return {"b": BOLD, "strong": BOLD, "i": ITALIC, "em": ITALIC}.get(name, "")

    return html.unescape(re.sub(r"<(/?)([a-zA-Z-]+)[^>]*>", tag, text_html))


class TerminalChat:
    def __init__(self, driver: EmulatorDriver, *, color: bool = True, out: Any = sys.stdout,
                 staff_chats: tuple[int, ...] = (DEMO_SUPPORT_CHAT, DEMO_OFFICERS_CHAT)) -> None:
        self.driver = driver
        self.color = color
        self.out = out
        self.staff_chats = staff_chats
        self.last_buttons: list[tuple[int, dict[str, Any]]] = []  # (message id, button)
        self.staff_seen: dict[int, int] = {}
        self.topic: tuple[int, int] | None = None  # this user's ticket topic, once one is opened

    def show(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            body = to_terminal(message.get("html") or message.get("text", ""), self.color)
            prefix = f"{BOLD}bot ›{RESET} " if self.color else "bot › "
            print(prefix + body.replace("\n", "\n      "), file=self.out)
            buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if buttons:
                self.last_buttons = [(message["message_id"], b) for b in buttons]
                labels = "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(buttons, 1))
                print(("      " + DIM + labels + RESET) if self.color else "      " + labels, file=self.out)
        self.out.flush()

    async def handle(self, line: str) -> bool:
        """Handles one typed line; returns False when the user wants to leave."""
        line = line.rstrip("\n")
        if line.strip() in (":quit", ":q", ":exit"):
            return False
        if line.strip() in (":help", ":?"):
            print(HELP, file=self.out)
            return True
        match = re.fullmatch(r":(\d+)", line.strip())
        if match:
            index = int(match.group(1)) - 1
            if not 0 <= index < len(self.last_buttons):
                print("(no such button)", file=self.out)
                return True
            message_id, button = self.last_buttons[index]
            await self.driver.press(USER_ID, USER_ID, message_id, data=button.get("callback_data"))
        elif line.startswith(":staff "):
            if self.topic is None or (await self.driver.topics(self.topic[0]))[str(self.topic[1])]["closed"]:
                print("(no open ticket: send /person first)", file=self.out)
                return True
            before = await self._topic_ids()
            await self.driver.send_text(DEMO_STAFF_MEMBER, line[len(":staff "):], chat_id=self.topic[0],
                                        message_thread_id=self.topic[1], first_name="Staff")
            await self.collect()
            await self._follow_new_topic(before)
            return True
        elif line.strip()[1:] in KINDS and line.strip().startswith(":"):
            await self.driver.send(USER_ID, line.strip()[1:])
        else:
            before = await self._topic_ids()
            await self.driver.send_text(USER_ID, line, first_name="You")
            await self.collect()
            await self._follow_new_topic(before)
            return True
        await self.collect()
        return True

    async def collect(self, first_timeout: float = 60.0, settle_s: float = 0.8) -> None:
        """Shows the replies: waits for the first one, then for any that follow shortly after; then what the
        bot posted in the staff topics meanwhile."""
        replies = await self.driver.wait_messages(USER_ID, 1, timeout=first_timeout)
        while replies:
            self.show(replies)
            replies = await self.driver.wait_messages(USER_ID, 1, timeout=settle_s)
        for chat_id in self.staff_chats:
            new = await self.driver.messages(chat_id, self.staff_seen.get(chat_id, 0))
            if new:
                self.staff_seen[chat_id] = new[-1]["message_id"]
            for message in new:
                body = to_terminal(message.get("html") or message.get("text") or f"[{_kind(message)}]", self.color)
                print(f"  {DIM}staff topic ›{RESET} " if self.color else "  staff topic › ", end="", file=self.out)
                print(body.replace("\n", "\n      "), file=self.out)

    async def _topic_ids(self) -> set[tuple[int, int]]:
        return {(chat_id, int(t)) for chat_id in self.staff_chats for t in await self.driver.topics(chat_id)}

    async def _follow_new_topic(self, before: set[tuple[int, int]]) -> None:
        """A topic that appeared while this user's message (or an escalation) was handled is the ticket's."""
        new = await self._topic_ids() - before
        if new:
            self.topic = max(new)


def _kind(message: dict[str, Any]) -> str:
    return next((k for k in KINDS if k in message), "message")

    async def run(self) -> None:
        print(HELP, file=self.out)
        loop = asyncio.get_running_loop()
        while True:
            prompt = f"{BOLD}you ›{RESET} " if self.color else "you › "
            print(prompt, end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:  # end of input
                return
            if not await self.handle(line):
                return
