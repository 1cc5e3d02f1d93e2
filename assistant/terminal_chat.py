"""A chat in the terminal, through the local Telegram emulator: type as a user, see the bot's replies.

The terminal is just another Telegram client here: messages go through the emulator to the real gateway,
so what you see is what a Telegram user would see (minus the pictures). With `:staff` the same terminal
also plays the staff member answering in the ticket's forum topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from assistant.launcher import DEMO_OFFICERS_CHAT, DEMO_STAFF_MEMBER, DEMO_SUPPORT_CHAT
from telegram_emulator.driver import EmulatorDriver, buttons_of

USER_ID = 100_001
BOLD, ITALIC, DIM, RESET = "\033[1m", "\033[3m", "\033[2m", "\033[0m"
KINDS = ("sticker", "photo", "voice", "document", "location", "contact", "video")
HELP = (
    "Type a message and press Enter.  /start, /help, /language, /person are bot commands.\n"
    "  :1, :2 …         press a button of the last message\n"
    f"  :{' :'.join(KINDS)}\n"
    "                   send that instead of text\n"
    "  :staff TEXT      answer as a staff member in your ticket's topic (after /person)\n"
    "  :staff /escalate NOTE   hand the ticket to officers;   :staff /resolve   give the chat back to the bot\n"
    "  :help            this help;   :quit   leave (Ctrl-C stops everything)"
)
PROMPT = "you › "
INDENT = " " * 6
FIRST_REPLY_S = 60.0  # the engine's first answer after a start can take this long on a busy machine
SETTLE_S = 0.8  # replies that follow the first one within this time belong to the same turn


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
    """Turns typed lines into what a Telegram user (or, with `:staff`, a staff member) does, and prints what
    the bot sends to the user and into the staff topics."""

    def __init__(
        self,
        driver: EmulatorDriver,
        *,
        color: bool = True,
        out: TextIO | None = None,
        staff_chats: tuple[int, ...] = (DEMO_SUPPORT_CHAT, DEMO_OFFICERS_CHAT),
        first_reply_s: float = FIRST_REPLY_S,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.driver = driver
        self.color = color
        self.out = out if out is not None else SafeOutput()
        self.staff_chats = staff_chats
        self.first_reply_s = first_reply_s
        self.settle_s = settle_s
        self.last_buttons: list[tuple[int, dict[str, Any]]] = []  # (message id, button)
        self.seen: dict[int, int] = {}  # chat id -> newest bot message already shown
        self.topic: tuple[int, int] | None = None  # this user's ticket topic, once one is opened

    def _print(self, text: str = "", end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)

    def _styled(self, style: str, text: str) -> str:
        return f"{style}{text}{RESET}" if self.color else text

    async def catch_up(self) -> None:
        """Marks what the chats already hold as seen (`make chat` joins an assistant that has been talking)."""
        for chat_id in (USER_ID, *self.staff_chats):
            messages = await self.driver.messages(chat_id)
            if messages:
                self.seen[chat_id] = messages[-1]["message_id"]

    # -------------------------------------------------------------------------------------------- input
    async def handle(self, line: str) -> bool:
        """Handles one typed line; returns False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line in (":help", ":?"):
            self._print(HELP)
            return True
        if button := re.fullmatch(r":(\d+)", line):
            await self._press(int(button.group(1)))
        elif line.startswith(":staff"):
            await self._as_staff(line[len(":staff") :].strip())
        elif line.startswith(":") and line[1:] in KINDS:
            await self.driver.send(USER_ID, line[1:])
            await self.collect()
        elif line.startswith(":"):
            self._print(f"(unknown chat command {line.split()[0]}; :help lists them)")
        else:
            await self.driver.send_text(USER_ID, line, first_name="You")
            await self.collect()
        return True

    async def _press(self, number: int) -> None:
        if not 1 <= number <= len(self.last_buttons):
            self._print("(no such button)")
            return
        message_id, button = self.last_buttons[number - 1]
        if "callback_data" not in button:
            self._print(f"(that button opens {button.get('url', 'a link')})")
            return
        pressed = await self.driver.press(USER_ID, USER_ID, message_id, data=button["callback_data"])
        query_id = pressed["callback_query_id"]
        toast_shown = False

        async def toast() -> bool:
            """Shows the press's answer (Telegram's toast) once it comes; True once it has been shown. A press
            answered without text (a language, an engine button) always brings a message: wait for that."""
            nonlocal toast_shown
            if not toast_shown:
                text = ((await self.driver.callback_answer(query_id)).get("answer") or {}).get("text")
                if text:
                    toast_shown = True
                    self._print(INDENT + self._styled(DIM, f"ⓘ {text}"))
            return toast_shown

        await self.collect(acknowledged=toast)
        await toast()  # a toast that came after the messages

    async def _as_staff(self, text: str) -> None:
        if not text:
            self._print("(:staff TEXT — what the staff member writes in the ticket's topic)")
            return
        if self.topic is None or (await self.driver.topics(self.topic[0])).get(str(self.topic[1]), {}).get("closed"):
            self._print("(no open ticket: send /person first)")
            return
        await self.driver.send_text(
            DEMO_STAFF_MEMBER, text, chat_id=self.topic[0], message_thread_id=self.topic[1], first_name="Staff"
        )
        await self.collect()

    # ------------------------------------------------------------------------------------------- output
    async def collect(self, *, acknowledged: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Shows what the bot sends to the user and into the staff topics for this turn: waits for the first
        message, then for any that follow within the settle time. While a person has the chat, the user's own
        message only reaches the staff topic: that copy is the turn's answer. `acknowledged` ends a turn that
        brings no message at all (a button answered with a toast)."""
        deadline = time.monotonic() + self.first_reply_s
        last_activity: float | None = None
        while True:
            if await self._show_new():
                last_activity = time.monotonic()
            elif last_activity is None and acknowledged is not None and await acknowledged():
                last_activity = time.monotonic()  # a message may still follow: wait the settle time for it
            elif last_activity is not None and time.monotonic() - last_activity >= self.settle_s:
                return
            if last_activity is None and time.monotonic() > deadline:
                self._print(
                    self._styled(
                        DIM, f"(no reply within {self.first_reply_s:.0f} s; the services' logs are in var/logs/)"
                    )
                )
                return
            await asyncio.sleep(0.1)

    async def _show_new(self) -> bool:
        """Prints the bot's messages not shown yet; True if there were any."""
        shown = False
        for chat_id in (USER_ID, *self.staff_chats):
            new = await self.driver.messages(chat_id, self.seen.get(chat_id, 0))
            if not new:
                continue
            self.seen[chat_id] = new[-1]["message_id"]
            shown = True
            for message in new:
                if chat_id == USER_ID:
                    self._show_to_user(message)
                else:
                    self._show_in_topic(chat_id, message)
        return shown

    def _show_to_user(self, message: dict[str, Any]) -> None:
        self._print(self._styled(BOLD, "bot ›") + " " + self._body(message))
        buttons = buttons_of(message)
        if buttons:
            self.last_buttons = [(message["message_id"], b) for b in buttons]
            labels = "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(buttons, 1))
            self._print(INDENT + self._styled(DIM, labels))

    def _show_in_topic(self, chat_id: int, message: dict[str, Any]) -> None:
        topic = message.get("message_thread_id")
        if topic is not None:  # a topic the bot posts in is this user's ticket (opened, or moved to the officers)
            self.topic = (chat_id, int(topic))
        label = "officers' topic ›" if chat_id == DEMO_OFFICERS_CHAT else "staff topic ›"
        self._print("  " + self._styled(DIM, label) + " " + self._body(message))

    def _body(self, message: dict[str, Any]) -> str:
        """The message as the terminal shows it under its label: each line indented, and on a terminal wrapped
        at its width, so long answers do not run back to the left edge."""
        text = to_terminal(message.get("html") or message.get("text") or f"[{_kind(message)}]", self.color)
        lines = text.split("\n")
        if self.color:
            width = max(40, shutil.get_terminal_size().columns - len(INDENT))
            lines = [part for line in lines for part in (textwrap.wrap(line, width) or [""])]
        return ("\n" + INDENT).join(lines)

    # --------------------------------------------------------------------------------------------- loop
    async def run(self, lines: asyncio.Queue[str | None] | None = None) -> None:
        """Reads lines (from the terminal unless a queue is given) until `:quit` or the end of input."""
        lines = lines if lines is not None else read_lines()
        self._print(HELP)
        while True:
            self._print(self._styled(BOLD, PROMPT), end="")
            line = await lines.get()
            if line is None:  # end of input
                self._print()
                return
            if not await self.handle(line):
                return


def read_lines(fd: int = 0) -> asyncio.Queue[str | None]:
    """The terminal's lines, read by a daemon thread with plain `os.read`: unlike a reader in the loop's
    executor, it never keeps the process alive once the chat is over, and unlike `sys.stdin` it holds no
    buffer lock that the interpreter's shutdown would wait for. None marks the end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is reading any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def reader() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                if pending:
                    put(pending.decode("utf-8", "replace"))
                put(None)
                return
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                put(raw.decode("utf-8", "replace"))

    threading.Thread(target=reader, name="terminal-input", daemon=True).start()
    return queue


class SafeOutput:
    """stdout that survives its reader going away: with `make run | tee log`, Ctrl-C ends tee first, and a
    failed print must not keep the launcher from stopping its services. After a failure the stream's file
    descriptor points at /dev/null, so later writes and the interpreter's last flush are silently dropped."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.broken = False

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def write(self, text: str) -> int:
        self._guard(lambda: self.stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def isatty(self) -> bool:
        return not self.broken and self.stream.isatty()

    def _guard(self, call: Callable[[], object]) -> None:
        if self.broken:
            return
        try:
            call()
        except (OSError, ValueError):
            self.broken = True
            with contextlib.suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)


def _kind(message: dict[str, Any]) -> str:
    return next((k for k in KINDS if k in message), "message")
