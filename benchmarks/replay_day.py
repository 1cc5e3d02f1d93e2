"""A day of traffic replayed into a running assistant, for the console's Overview: the latency benchmark's
users (held-out questions in the three languages, reading between messages), who also rate answers, check
the demo application's status and now and then ask for a person.

    make run                                              # in one terminal
    .venv/bin/python -m benchmarks.replay_day             # in another: 60 users, about two minutes
    .venv/bin/python -m benchmarks.replay_day --users 200 --think 0.2 1

Each user is a new chat (ids from --first-user on). What the users saw is counted on their side too, from the
replies themselves (an answer carries its entry's rating buttons; a hand-over and a status have their words),
and printed: the Overview must show the same. tests/e2e/test_overview_browser.py replays a small day and
checks the page against these counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load import driver_for, message_pool, says_handed_over
from core.settings import Settings
from telegram_emulator.driver import EmulatorDriver
from telegram_emulator.html_check import parse_html

STATUS_QUESTIONS = {
    "az": "Müraciətimin statusu nədir?",
    "ru": "Какой статус моего заявления?",
    "en": "What is the status of my application?",
}
DEMO_APPLICATION, DEMO_BIRTH_DATE = "TRP-2026-000102", "02.11.1985"  # case_api/sandbox.py's demo applicant


@dataclass
class Observed:
    """What the users sent and saw."""

    users: int = 0
    messages: int = 0  # every text sent, each answered once
    by_language: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)  # entry -> answers seen
    rated_up: Counter[str] = field(default_factory=Counter)
    rated_down: Counter[str] = field(default_factory=Counter)
    handed_over: int = 0
    status_found: int = 0
    unanswered: int = 0  # sent, and no reply within the timeout

    def summary(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "messages": self.messages,
            "by_language": dict(self.by_language),
            "answered": sum(self.answered.values()),
            "entries": len(self.answered),
            "rated_up": sum(self.rated_up.values()),
            "rated_down": sum(self.rated_down.values()),
            "handed_over": self.handed_over,
            "status_found": self.status_found,
            "unanswered": self.unanswered,
        }


def _rated_entry(message: dict[str, Any]) -> tuple[str, str] | None:
    """(entry, the 👍 button's data) of an answer's rating buttons, if it has them."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            data = str(button.get("callback_data", ""))
            if data.startswith("rate:+:"):
                return data.split(":", 2)[2], data
    return None


class Replay:
    def __init__(self, driver: EmulatorDriver, think_s: tuple[float, float], seed: int, timeout_s: float) -> None:
        self.driver, self.think_s, self.timeout_s = driver, think_s, timeout_s
        self.rng = random.Random(seed)
        self.pool = message_pool()
        self.seen = Observed()

    async def _say(self, user: int, language: str, text: str) -> list[dict[str, Any]]:
        """Sends `text` and returns every message of the reply (those that came before the next one is sent:
        a chat's messages are answered one after another)."""
        sent = await self.driver.send_text(user, text, language_code=language)
        sent_id = sent["message"]["message_id"]
        self.seen.messages += 1
        self.seen.by_language[language] += 1
        if not await self.driver.wait_messages(user, 1, after_id=sent_id, timeout=self.timeout_s):
            self.seen.unanswered += 1
            return []
        await asyncio.sleep(0.3)  # the reply's further messages (a hand-over after "I did not understand")
        return await self.driver.messages(user, after_id=sent_id)

    async def user(self, user: int, language: str, messages: int, local: random.Random) -> None:
        rated_entries: set[str] = set()  # a user has one vote per entry: pressing again would change it
        await asyncio.sleep(local.uniform(0, self.think_s[1]))
        for _ in range(messages):
            replies = await self._say(user, language, local.choice(self.pool[language]))
            if says_handed_over(replies):
                self.seen.handed_over += 1
                return  # people have the chat now: the bot stays silent
            rated = next((found for r in replies if (found := _rated_entry(r))), None)
            if rated is not None:
                entry, up = rated
                self.seen.answered[entry] += 1
                answer = next(r for r in replies if _rated_entry(r) == rated)
                vote = local.random()
                if (vote < 0.35 or vote > 0.9) and entry not in rated_entries:
                    rated_entries.add(entry)
                    data = up if vote < 0.35 else up.replace("rate:+:", "rate:-:", 1)
                    pressed = await self.driver.press(user, user, answer["message_id"], data=data)
                    toast = await self.driver.wait_callback_answer(pressed["callback_query_id"])
                    if toast.get("answered"):
                        (self.seen.rated_up if vote < 0.35 else self.seen.rated_down)[entry] += 1
            await asyncio.sleep(local.uniform(*self.think_s))
        if local.random() < 0.15:
            await self._status(user, language)
        if local.random() < 0.08:
            replies = await self._say(user, language, "/person")
            self.seen.handed_over += says_handed_over(replies)

    async def _status(self, user: int, language: str) -> None:
        """The status form, as the demo applicant fills it in (when the assistant asks for the number)."""
        asked = await self._say(user, language, STATUS_QUESTIONS[language])
        if not any("TRP-" in parse_html(r["html"]).text for r in asked if r.get("html")):
            return
        await self._say(user, language, DEMO_APPLICATION)
        status = await self._say(user, language, DEMO_BIRTH_DATE)
        if any(DEMO_APPLICATION in parse_html(r["html"]).text for r in status if r.get("html")):
            self.seen.status_found += 1

    async def run(self, users: int, messages: int, first_user: int, concurrency: int) -> Observed:
        languages = sorted(self.pool)
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            local = random.Random(self.rng.random())
            async with gate:
                user = first_user + n
                await self.user(user, languages[n % len(languages)], messages, local)

        self.seen.users = users
        await asyncio.gather(*(one(n) for n in range(users)))
        return self.seen


async def replay(
    driver: EmulatorDriver,
    *,
    users: int,
    messages: int = 4,
    first_user: int = 5_000_000,
    think_s: tuple[float, float] = (0.5, 2.0),
    concurrency: int = 20,
    seed: int = 29,
    timeout_s: float = 30.0,
) -> Observed:
    return await Replay(driver, think_s, seed, timeout_s).run(users, messages, first_user, concurrency)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--messages", type=int, default=4, help="questions per user, before status and person")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 2.0), help="reading time between messages")
    parser.add_argument("--concurrency", type=int, default=20, help="users talking at once")
    parser.add_argument("--first-user", type=int, default=5_000_000, help="chat ids from here on: new chats")
    parser.add_argument("--seed", type=int, default=29)
    args = parser.parse_args(argv)

    async def run() -> Observed:
        settings = Settings()
        async with driver_for(settings) as driver:
            return await replay(
                driver,
                users=args.users,
                messages=args.messages,
                first_user=args.first_user,
                think_s=(args.think[0], args.think[1]),
                concurrency=args.concurrency,
                seed=args.seed,
            )

    with contextlib.suppress(KeyboardInterrupt):
        seen = asyncio.run(run())
        for name, value in seen.summary().items():
            print(f"{name:>14}: {value}")
        print(f"The console's Overview shows these within seconds: http://127.0.0.1:{Settings().console_port}/")


if __name__ == "__main__":
    main()
