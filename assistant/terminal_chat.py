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

from telegram_emulator.driver import EmulatorDriver

USER_ID = 100_001
BOLD, ITALIC, DIM, RESET = "\033[1m", "\033[3m", "\033[2m", "\033[0m"
KINDS = ("sticker", "photo", "voice", "document", "location", "contact", "video")
HELP = (
    "Type a message and press Enter.  /start, /help, /language are bot commands.\n"
    f"  :1, :2 …   press a button of the last message     :{' :'.join(KINDS)}   send that instead of text\n"
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
    def __init__(self, driver: EmulatorDriver, *, color: bool = True, out: Any = sys.stdout) -> None:
        self.driver = driver
        self.color = color
        self.out = out
        self.last_buttons: list[tuple[int, dict[str, Any]]] = []  # (message id, button)

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
        elif line.strip()[1:] in KINDS and line.strip().startswith(":"):
            await self.driver.send(USER_ID, line.strip()[1:])
        else:
            await self.driver.send_text(USER_ID, line, first_name="You")
        await self.collect()
        return True

    async def collect(self, first_timeout: float = 60.0, settle_s: float = 0.8) -> None:
        """Shows the replies: waits for the first one, then for any that follow shortly after."""
        replies = await self.driver.wait_messages(USER_ID, 1, timeout=first_timeout)
        while replies:
            self.show(replies)
            replies = await self.driver.wait_messages(USER_ID, 1, timeout=settle_s)

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
