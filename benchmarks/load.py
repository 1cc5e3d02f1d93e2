"""What the latency and resource benchmarks share: the real stack on free ports, simulated Telegram users
talking to it through the emulator, and the memory of each process.

A simulated user is a Telegram user who writes a question, waits for the answer, reads it (think time),
and writes again: "N concurrent users" means N such conversations at once, as load-testing tools define it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector

from assistant.launcher import Stack, loopback_settings
from benchmarks.heldout import heldout
from bot.texts import TEXTS
from core.i18n import gettext
from core.settings import PROJECT_ROOT, Settings
from core.tasks import cancel_and_wait
from knowledge.schema import load_dir
from knowledge.seeding import knowledge_base
from telegram_emulator.driver import EmulatorDriver
from telegram_emulator.html_check import parse_html
from training.trainer import ensure_model

# Intents a load test can repeat forever without changing the conversation's course (a status check opens
# a form, asking for a person hands the chat over).
CONVERSATIONAL = {"faq", "greet", "thanks", "help", "goodbye", "bot_challenge", "out_of_scope", "affirm", "deny"}


def stack_settings(data_dir: Path, **overrides: Any) -> Settings:
    return loopback_settings(data_dir, **{"log_level": "WARNING", **overrides})


@contextlib.asynccontextmanager
async def running_stack(data_dir: Path, **overrides: Any) -> AsyncIterator[tuple[Stack, float]]:
    """The whole assistant as `make run` starts it; yields (stack, seconds from start to the first answer)."""
    settings = stack_settings(data_dir, **overrides)
    async with knowledge_base(settings) as kb:
        model = (await ensure_model(settings, kb)).model
    stack = Stack(settings, model, with_emulator=True)
    started = time.monotonic()
    try:
        await stack.start()
        async with driver_for(stack.settings) as driver:
            await driver.ask(1, "hello", language_code="en", timeout=120)
        yield stack, time.monotonic() - started
    finally:
        await stack.stop()


@contextlib.asynccontextmanager
async def driver_for(settings: Settings) -> AsyncIterator[EmulatorDriver]:
    # No connection limit: every simulated user holds a long poll open.
    async with ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=300)) as session:
        yield EmulatorDriver(settings.emulator_url, settings.bot_token, session)


def message_pool(languages: tuple[str, ...] = ("az", "ru", "en")) -> dict[str, list[str]]:
    """Held-out texts per language (never trained on, so the engine works for real), without questions
    whose answer also hands the chat to people (the bot is silent after that)."""
    to_people = {entry.key for entry in load_dir(PROJECT_ROOT / "knowledge" / "seed") if entry.needs_person}
    pool: dict[str, list[str]] = {lang: [] for lang in languages}
    for example in heldout(languages):
        if example.intent in CONVERSATIONAL and example.entry not in to_people:
            pool[example.language].append(example.text)
    return pool


@functools.cache
def handoff_markers() -> tuple[str, ...]:
    """The start of "I am passing our conversation to a person" (every reason) in every language."""
    return tuple(
        {
            parse_html(gettext(lang, TEXTS[key])).text[:40]
            for lang in ("az", "ru", "en")
            for key in ("handoff_opened", "handoff_not_understood", "handoff_sensitive")
        }
    )


def says_handed_over(messages: list[dict[str, Any]]) -> bool:
    """Whether one of the bot's messages says people have the chat now (the bot then stays silent)."""
    return any(parse_html(m["html"]).text.startswith(handoff_markers()) for m in messages if m.get("html"))


async def told_of_handover(driver: EmulatorDriver, user_id: int, after_id: int) -> bool:
    """Whether a bot message since `after_id` says people have the chat: the hand-over may be the second message
    of a reply ("I did not understand", then "a person will help"), after the first one was awaited. Then the
    bot rightly stays silent, and a user writing on would count every message as unanswered."""
    return says_handed_over(await driver.messages(user_id, after_id=after_id))


@dataclass
class LoadResult:
    users: int
    messages: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0  # no answer within the timeout, or the emulator refused
    handed_over: int = 0  # conversations handed to people (the bot then stays silent: not errors)
    unanswered: list[str] = field(default_factory=list)  # texts that got no reply (the first 20)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def simulate(
    driver: EmulatorDriver,
    users: int,
    messages: int,
    think_s: tuple[float, float],
    first_user_id: int,
    timeout_s: float = 30.0,
    seed: int = 1,
) -> LoadResult:
    """`users` conversations at once, each `messages` long; latency = send → first reply in the chat."""
    pool = message_pool()
    languages = sorted(pool)
    result = LoadResult(users)
    rng = random.Random(seed)

    async def conversation(user_id: int) -> None:
        language = languages[user_id % len(languages)]
        local = random.Random(rng.random())
        await asyncio.sleep(local.uniform(0, think_s[1]))  # users arrive spread out, not all at once
        for _ in range(messages):
            text = local.choice(pool[language])
            started = time.perf_counter()
            try:
                sent = await driver.send_text(user_id, text, language_code=language)
                replies = await driver.wait_messages(
                    user_id, 1, after_id=sent["message"]["message_id"], timeout=timeout_s
                )
            except Exception:  # noqa: BLE001 - a load test counts any failed exchange as an error and goes on
                result.errors += 1
                continue
            result.messages += 1
            if not replies:
                result.errors += 1
                if len(result.unanswered) < 20:
                    result.unanswered.append(f"{language}: {text}")
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(Exception):  # a second reply (e.g. "…and a person will help too")
                replies += await driver.wait_messages(user_id, 1, timeout=0.5)
            if says_handed_over(replies):
                result.handed_over += 1
                return  # people have the chat now
            await asyncio.sleep(local.uniform(*think_s))

    started = time.monotonic()
    await asyncio.gather(*(conversation(first_user_id + i) for i in range(users)))
    result.seconds = time.monotonic() - started
    return result


# ------------------------------------------------------------------ memory


def _process_groups() -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        groups.setdefault(int(fields[2]), []).append(int(entry))  # fields[2]: the process group
    return groups


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def cpu_by_service(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each service's process group (compare two readings)."""
    groups = _process_groups()
    return {
        service.name: round(sum(_cpu_s(pid) for pid in groups.get(service.process.pid, [])), 2)
        for service in stack.services
        if service.process is not None and service.process.returncode is None
    }


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_by_service(stack: Stack) -> dict[str, float]:
    """Resident memory (MB) of each service: its whole process group (the launcher starts one per service)."""
    groups = _process_groups()
    result = {}
    for service in stack.services:
        if service.process is not None and service.process.returncode is None:
            result[service.name] = round(sum(_rss_mb(pid) for pid in groups.get(service.process.pid, [])), 1)
    return result


class PeakMemory:
    """Samples every service's RSS in the background and keeps the peak of each."""

    def __init__(self, stack: Stack, interval_s: float = 0.5) -> None:
        self.stack, self.interval_s = stack, interval_s
        self.peak: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> PeakMemory:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel_and_wait(self._task)

    async def _sample(self) -> None:
        while True:
            for name, mb in rss_by_service(self.stack).items():
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
            await asyncio.sleep(self.interval_s)
