"""A fuzz run of hostile input through the real gateway (emulator + fake engine that echoes the text back,
so whatever a user types comes back through our rendering): huge, binary-looking, control characters,
HTML and Markdown injection, SQL-looking text, right-to-left text, emoji floods, every non-text kind,
odd commands, forged callback data, forged rating presses (under invented message ids, other entries'
answers, other users' chats), edits of earlier messages and unknown update types. No crash, no error logged,
no silence, no forged vote counted, and Telegram (the emulator, which checks HTML as strictly as Telegram
does) refuses none of the replies."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.bootstrap import open_database
from core.settings import Settings
from knowledge.models import Rating
from telegram_emulator.driver import EmulatorDriver, text_of
from telegram_emulator.html_check import parse_html
from tests.support.gateway import answer_reply, fake_engine, gateway  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow  # a thousand messages through the gateway: half a minute

SEED, USERS, PER_USER = 20261125, 250, 4  # 1 000 inputs

INJECTIONS = [
    "<b>bold</b>",
    "</i>",
    "<a href='javascript:alert(1)'>x</a>",
    "&amp; &lt; &#0; &#x110000; &bogus;",
    "<script>alert(1)</script>",
    "<tg-spoiler>",
    '<pre><code class="x">',
    "<<>>",
    "<b",
    "a < b > c & d",
    "*bold* _it_ `code` [link](http://x) ```pre``` ~~s~~ ||spoiler||",
    "\\*escaped\\*",
    "'; DROP TABLE kb_entries; --",
    "1 OR 1=1",
    '" OR ""="',
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "../../etc/passwd",
    "%s%s%s%n",
    "\\u0000",
    "null",
    "None",
    "[]",
    "{}",
    "<!--",
    "]]>",
]
SCRIPTS = [
    "\u202eevil\u202c",
    "مرحبا كيف حالك",
    "שלום",
    "\u200b\u200c\u200d\ufeff",
    "é" * 30,
    "Z\u0351\u0352\u0353\u0354" * 20,
    "👨‍👩‍👧‍👦" * 10,
    "🇦🇿🇷🇺🇬🇧",
    "\u0000\u0001\u0007\u001b[31m",
    "tab\there\rcarriage\x0bvertical\x0cform",
    "ı İ ə Ə ğ Ğ ş Ş ç Ç ö Ö ü Ü",
    "\ud7ff\ue000\uffff",
]
EMOJI = "😀🔥💥🇦🇿👍🏽❤️‍🔥🧿🤖"
KINDS = ["sticker", "photo", "voice", "document", "location", "contact", "video"]
ENTRIES = ["registration_who_when_how", "visa_evisa_asan"]  # answers the fake engine gives, with 👍/👎
VICTIM = 879_999  # another user, whose answer the fuzz's users press buttons under


def hostile_text(rng: random.Random) -> str:
    makers: list[Callable[[], str]] = [
        lambda: rng.choice(INJECTIONS),
        lambda: rng.choice(SCRIPTS),
        lambda: "".join(rng.choice(EMOJI) for _ in range(rng.randrange(1, 1500))),
        lambda: "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 400))),
        lambda: "".join(chr(rng.randrange(0, 0x20)) for _ in range(rng.randrange(1, 50))) + "x",
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))).decode("latin-1"),
        lambda: rng.choice(["A", "я", "ə", " <b>"]) * rng.randrange(900, 4096 // 4),
        lambda: "/" + rng.choice(["", "start junk", "x" * 60, "language@otherbot", "person now", "help\n/start"]),
        lambda: rng.choice([" ", "\n\n", "\u200b", "\t"]),
        lambda: " ".join(rng.choice(INJECTIONS + SCRIPTS) for _ in range(5)),
    ]
    return rng.choice(makers)()[:4096]


async def toast(driver: EmulatorDriver, pressed: dict) -> None:
    for _ in range(100):
        if (await driver.callback_answer(pressed["callback_query_id"]))["answered"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a forged button press was not answered")


async def forged_rating_presses(driver: EmulatorDriver, rng: random.Random, user: int, victim_answer: int) -> None:
    """A modified client's 👍/👎: under invented message ids, another entry's data under a real answer, the
    right data under another user's answer, and garbage after "rate:"; every one answered, none counted."""
    entry = rng.choice(ENTRIES)
    (answer,) = await driver.ask(user, f"answer about {entry}", timeout=15)
    other = next(e for e in ENTRIES if e != entry)
    sign = rng.choice("+-")
    presses = [
        (user, 10**6 + rng.randrange(10**6), f"rate:{sign}:{entry}"),
        (user, answer["message_id"], f"rate:{sign}:{other}"),
        (VICTIM, victim_answer, f"rate:{sign}:{ENTRIES[0]}"),
        (user, answer["message_id"], "rate:" + "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(20))),
    ]
    for chat, message_id, data in rng.sample(presses, rng.randrange(1, len(presses) + 1)):
        await toast(driver, await driver.press(user, chat, message_id, data=data, forged=True))


async def edits(driver: EmulatorDriver, rng: random.Random, user: int) -> None:
    """An earlier message edited into hostile text (not answered: edits of texts are not) or into a command
    (answered like a new one, flood control included)."""
    sent = await driver.send_text(user, "a question I will correct", language_code=rng.choice(["az", "ru", "en"]))
    asked = sent["message"]["message_id"]
    await driver.wait_messages(user, 1, after_id=asked, timeout=15)
    if rng.random() < 0.5:
        await driver.edit_text(user, asked, hostile_text(rng) or "x")
        return
    await driver.edit_text(user, asked, rng.choice(["/help", "/start", "/language"]))
    assert await driver.wait_messages(user, 1, timeout=15), "an edited command gets an answer"


async def test_a_thousand_hostile_inputs(gateway, caplog, tmp_path):  # noqa: F811
    engine, driver = gateway
    engine.scripted = {f"answer about {entry}": answer_reply(entry) for entry in ENTRIES}
    (victim_answer,) = await driver.ask(VICTIM, f"answer about {ENTRIES[0]}", timeout=15)
    caplog.set_level(logging.ERROR)
    rng = random.Random(SEED)
    counts = {"text": 0, "media": 0, "callback": 0, "rating": 0, "edit": 0, "unknown": 0}

    async def user_session(user: int) -> None:
        local = random.Random(rng.random())
        for _ in range(PER_USER):
            roll = local.random()
            if roll < 0.62:
                counts["text"] += 1
                replies = await driver.ask(
                    user, hostile_text(local), timeout=15, language_code=local.choice(["az", "ru", "en", "xx", None])
                )
                assert replies, "every message gets an answer"
            elif roll < 0.77:
                counts["media"] += 1
                kind = local.choice(KINDS)
                sent = await driver.send(
                    user, kind, caption=hostile_text(local)[:1024], file_name=hostile_text(local)[:200] or "x"
                )
                assert await driver.wait_messages(user, 1, after_id=sent["message"]["message_id"], timeout=15)
            elif roll < 0.84:
                counts["callback"] += 1
                (menu,) = await driver.ask(user, "/language", timeout=15)
                forged = "".join(chr(local.randrange(0x20, 0x7F)) for _ in range(local.randrange(1, 64)))
                await toast(driver, await driver.press(user, user, menu["message_id"], data=forged))
            elif roll < 0.90:
                counts["rating"] += 1
                await forged_rating_presses(driver, local, user, victim_answer["message_id"])
            elif roll < 0.97:
                counts["edit"] += 1
                if local.random() < 0.3:  # an edit of a message the bot never saw
                    await driver.send_text(user, hostile_text(local), edited=True)
                else:
                    await edits(driver, local, user)
            else:
                counts["unknown"] += 1
                await driver.raw_update(
                    {
                        local.choice(["message_reaction", "poll", "chat_boost", "zzz_new_type"]): {
                            "chat": {"id": user, "type": "private"},
                            "junk": hostile_text(local),
                        }
                    }
                )

    users = list(range(880_001, 880_001 + USERS))
    for start in range(0, USERS, 50):
        await asyncio.gather(*(user_session(u) for u in users[start : start + 50]))

    info = await driver.info()
    assert info["refusals"] == [], info["refusals"][:5]  # every reply was valid for Telegram
    for user in users[:40]:
        for message in await driver.messages(user):
            parse_html(message.get("html") or "")
    (reply,) = await driver.ask(880_000, "still alive after all that?")
    assert text_of(reply) == "echo: still alive after all that?"
    crashes = [r for r in caplog.records if "error while handling an update" in r.getMessage()]
    assert crashes == [], crashes[0].exc_info if crashes else None
    # The malformed updates sent on purpose above are skipped with an error (bot/resilient_bot.py); nothing else.
    errors = [r.getMessage() for r in caplog.records if "that cannot be parsed" not in r.getMessage()]
    assert errors == [], errors[:5]
    assert sum(counts.values()) == USERS * PER_USER and min(counts.values()) > 0, counts
    database = await open_database(Settings(_env_file=None, data_dir=tmp_path))  # the gateway's
    try:
        async with database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Rating)) == 0, "a forged press counted"
    finally:
        await database.close()
