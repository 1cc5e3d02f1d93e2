"""The gateway (real python-telegram-bot Application, in process) against the emulator and a fake engine
(tests/support/gateway.py); the real engine is exercised in tests/e2e."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from core.settings import Settings
from telegram_emulator.driver import EmulatorDriver, buttons_of, text_of
from tests.conftest import TOKEN, free_port
from tests.support.gateway import answer_reply, running_gateway
from tests.support.gateway import fake_engine as fake_engine  # the fixture: a fake engine
from tests.support.gateway import gateway as gateway  # the fixture: the gateway against the emulator and a fake engine


async def test_text_goes_to_the_engine_with_the_language_and_comes_back_escaped(gateway):
    engine, driver = gateway
    (reply,) = await driver.ask(1, "Как получить <ВНЖ> & визу?")
    assert text_of(reply) == "echo: Как получить <ВНЖ> & визу?"
    assert engine.received[-1]["metadata"] == {"language": "ru"}
    assert engine.received[-1]["sender"] == "1"
    info = await driver.info()
    assert not any(a["chat_id"] == 1 for a in info["chat_actions"]), "a quick answer needs no typing indicator"


async def test_a_slow_answer_shows_typing_first(gateway):
    engine, driver = gateway
    engine.delays = {"a slow question": 0.95}  # under the engine timeout, over the typing delay
    (reply,) = await driver.ask(11, "a slow question")
    assert text_of(reply) == "echo: a slow question"
    info = await driver.info()
    assert any(a["chat_id"] == 11 and a["action"] == "typing" for a in info["chat_actions"])


@pytest.mark.parametrize("mode", ["slow", "garbage", "error"])
async def test_engine_trouble_gets_a_kind_apology(gateway, mode):
    engine, driver = gateway
    engine.mode = mode
    (reply,) = await driver.ask(2, "hello there, how do I register?", timeout=10)
    assert "technical problem" in text_of(reply)


async def test_engine_down_gets_a_kind_apology_in_the_users_language(emulator, tmp_path):
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_url=emulator,
        data_dir=tmp_path,
        engine_url=f"http://127.0.0.1:{free_port()}",
        engine_retries=1,
    )
    async with running_gateway(settings), EmulatorDriver(emulator, TOKEN) as driver:
        (reply,) = await driver.ask(3, "Salam, qeydiyyat üçün nə lazımdır?", timeout=10)
        assert "texniki problem" in text_of(reply)


async def test_silent_engine_still_answers(gateway):
    engine, driver = gateway
    engine.mode = "silent"
    (reply,) = await driver.ask(4, "hello")
    assert "did not understand" in text_of(reply)
    # Nothing at all because the action server is down: that is a technical problem, said so.
    engine.actions_up = False
    (reply,) = await driver.ask(4, "hello again")
    assert "technical problem" in text_of(reply)


async def test_replies_keep_the_order_of_a_chats_messages(gateway):
    engine, driver = gateway
    engine.delays = {"first question": 0.8, "second question": 0.0}
    await driver.send_text(5, "first question")
    await driver.send_text(5, "second question")
    await driver.send_text(6, "other chat")  # not held up by chat 5
    replies = await driver.wait_messages(5, 2, timeout=10)
    assert [text_of(r) for r in replies] == ["echo: first question", "echo: second question"]
    (other,) = await driver.wait_messages(6, 1, timeout=10)
    assert other["date"] <= replies[0]["date"] + 1


async def test_empty_unknown_command_and_flood_of_emoji(gateway):
    _, driver = gateway
    (reply,) = await driver.ask(7, "/frobnicate", language_code="en")
    assert "do not know this command" in text_of(reply)
    (reply,) = await driver.ask(7, "😀" * 150)
    assert text_of(reply).startswith("echo: ")
    (reply,) = await driver.ask(7, "x" * 201)
    assert "too long" in text_of(reply)


async def test_rate_limited_by_telegram_still_delivers(gateway):
    _, driver = gateway
    await driver.add_fault(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1, times=1
    )
    (reply,) = await driver.ask(8, "hello", timeout=15)
    assert text_of(reply) == "echo: hello"


async def test_unknown_update_types_and_edits_do_not_crash(gateway):
    engine, driver = gateway
    await driver.raw_update(
        {
            "poll": {
                "id": "1",
                "question": "?",
                "options": [],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
            }
        }
    )
    await driver.send_text(9, "edited text", edited=True)
    (reply,) = await driver.ask(9, "still alive?")
    assert text_of(reply) == "echo: still alive?"
    assert [m["message"] for m in engine.received if m["sender"] == "9"] == ["still alive?"]
    json.dumps(engine.received)  # everything the engine got was plain JSON


async def test_a_flood_from_one_user_is_slowed_politely_and_others_are_unaffected(gateway):
    engine, driver = gateway
    flood = [driver.send_text(30, f"please tell me about question number {i}", language_code="en") for i in range(50)]
    await asyncio.gather(*flood, driver.send_text(31, "an ordinary question"))
    (other,) = await driver.wait_messages(31, 1, timeout=10)
    assert text_of(other) == "echo: an ordinary question"
    replies = await driver.wait_messages(30, 11, timeout=15)
    await asyncio.sleep(0.5)  # nothing more is coming
    texts = [text_of(r) for r in await driver.messages(30)]
    assert len(texts) == 11, texts
    assert sum(t.startswith("echo: please tell me") for t in texts) == 10  # Settings.flood_messages
    assert sum("faster than I can read" in t for t in texts) == 1
    assert len([m for m in engine.received if m["sender"] == "30"]) == 10
    assert replies


async def test_edited_commands_count_towards_the_flood_limit(gateway):
    _, driver = gateway
    await asyncio.gather(*(driver.send_text(32, "/help", edited=True, language_code="en") for _ in range(30)))
    await driver.wait_messages(32, 11, timeout=15)
    await asyncio.sleep(0.5)  # nothing more is coming
    texts = [text_of(r) for r in await driver.messages(32)]
    assert len(texts) == 11, texts  # Settings.flood_messages answers, and one "slow down"
    assert sum("faster than I can read" in t for t in texts) == 1


@pytest.fixture
async def gateway_services(emulator, fake_engine, tmp_path):
    """A gateway whose services a test can break, and a driver to talk to it."""

    _, engine_url = fake_engine
    settings = Settings(
        _env_file=None, telegram_bot_token=TOKEN, telegram_api_url=emulator, data_dir=tmp_path, engine_url=engine_url
    )
    async with running_gateway(settings) as application, EmulatorDriver(emulator, TOKEN) as driver:
        yield application.bot_data.services, driver


async def database_down(*args, **kwargs):
    raise ConnectionRefusedError("Connect call failed ('127.0.0.1', 5432)")


async def test_with_the_database_down_the_user_still_gets_an_apology(gateway_services):
    """The apology for a failed handler must not need the database (the language preference lives there)."""
    services, driver = gateway_services
    services.languages.resolve = database_down
    (reply,) = await driver.ask(40, "hello", language_code="ru", timeout=10)
    assert "что-то пошло не так" in text_of(reply), text_of(reply)


async def test_a_failure_before_the_answer_gets_one_apology_and_nothing_else(gateway_services):
    """The relay to people runs first; when it fails (the tickets' database restarting), the user gets one
    apology, not an apology and then an answer (found by benchmarks.reliability at a PostgreSQL restart)."""
    services, driver = gateway_services
    services.desk.tickets.open_ticket_for = database_down
    (reply,) = await driver.ask(41, "hello", language_code="en", timeout=10)
    await asyncio.sleep(0.5)  # a second reply would arrive now
    assert [text_of(m) for m in await driver.messages(41)] == [text_of(reply)]
    assert "went wrong" in text_of(reply), text_of(reply)


async def test_the_http_client_finds_its_async_library_without_a_failed_import():
    # httpcore asks sniffio which event loop runs, per request; without sniffio installed every request
    # pays an ImportError that searches the whole path (pyproject.toml lists it for that reason).
    import sys

    from httpcore._synchronization import current_async_library

    assert current_async_library() == "asyncio"
    assert "sniffio" in sys.modules


async def wait_toast(driver: EmulatorDriver, pressed: dict) -> str | None:
    answer = await driver.wait_callback_answer(pressed["callback_query_id"])
    assert answer["answered"], "every press gets an answer"
    return answer["answer"]["text"]


async def test_forged_rating_presses_count_once_and_only_under_answers_really_sent(
    gateway_services, fake_engine, caplog
):
    """The issue's attack: 11 forged 👎 (8 under invented message ids) showed 11 down-votes."""
    from knowledge.curation import Curation

    services, driver = gateway_services
    services.settings.flood_messages = 50  # this attack is on the counting; presses held by speed: below
    engine, _ = fake_engine
    engine.scripted = {"who registers?": answer_reply(), "visa?": answer_reply("visa_evisa_asan")}
    attacker, other = 60, 61
    (first,) = await driver.ask(attacker, "who registers?", language_code="en")
    (second,) = await driver.ask(attacker, "who registers?", language_code="en")
    (visa,) = await driver.ask(attacker, "visa?", language_code="en")
    (theirs,) = await driver.ask(other, "who registers?", language_code="en")
    assert [b["callback_data"] for b in buttons_of(first)] == [
        "rate:+:registration_who_when_how",
        "rate:-:registration_who_when_how",
    ]

    async def votes() -> tuple[int, int]:
        counted = await Curation(services.database.sessions).votes("registration_who_when_how")
        return counted.thumbs_up, counted.thumbs_down

    # A real press counts, and its buttons go.
    assert await wait_toast(driver, await driver.press(attacker, attacker, first["message_id"], text="👎")) == (
        "Thank you for your feedback!"
    )
    caplog.set_level(logging.WARNING, logger="bot.handlers")
    down = "rate:-:registration_who_when_how"
    forged = [
        *(driver.press(attacker, attacker, 1000 + i, data=down, forged=True) for i in range(8)),  # never sent
        driver.press(attacker, attacker, visa["message_id"], data=down),  # another entry's answer
        driver.press(attacker, attacker, theirs["message_id"] + 500, data=down, forged=True),
        driver.press(attacker, other, theirs["message_id"], data=down, forged=True),  # someone else's chat
    ]
    toasts = [await wait_toast(driver, await press) for press in forged]
    assert toasts == ["This button is no longer active."] * 11
    assert await votes() == (0, 1)
    # Pressing again under the same entry's other answer changes the vote: still one per user.
    assert await wait_toast(driver, await driver.press(attacker, attacker, second["message_id"], text="👍")) == (
        "Thank you for your feedback!"
    )
    assert await votes() == (1, 0)
    notes = [r.getMessage() for r in caplog.records if "not counted" in r.getMessage()]
    assert len(notes) == 11 and not any(str(attacker) in n or str(other) in n for n in notes)


async def test_rating_buttons_work_after_a_restart_of_the_gateway(emulator, fake_engine, tmp_path):
    """What was sent is in the database: another replica, or the gateway after a restart, counts the press."""
    from knowledge.curation import Curation

    engine, engine_url = fake_engine
    engine.scripted = {"who registers?": answer_reply()}
    settings = Settings(
        _env_file=None, telegram_bot_token=TOKEN, telegram_api_url=emulator, data_dir=tmp_path, engine_url=engine_url
    )
    async with EmulatorDriver(emulator, TOKEN) as driver:
        async with running_gateway(settings):
            (answer,) = await driver.ask(62, "who registers?", language_code="en")
        async with running_gateway(settings) as application:
            pressed = await driver.press(62, 62, answer["message_id"], text="👍")
            assert await wait_toast(driver, pressed) == "Thank you for your feedback!"
            votes = await Curation(application.bot_data.services.database.sessions).votes("registration_who_when_how")
            assert (votes.thumbs_up, votes.thumbs_down) == (1, 0)


async def test_edited_texts_and_commands_are_held_by_the_same_flood_control(gateway):
    _, driver = gateway
    sent = [await driver.send_text(33, f"question {i}", language_code="en") for i in range(15)]
    await driver.wait_messages(33, 10, timeout=15)  # the flood limit: ten answers, then "slow down"
    await asyncio.sleep(0.5)
    before = len(await driver.messages(33))
    edits = [driver.edit_text(33, s["message"]["message_id"], "/help", language_code="en") for s in sent]
    edits += [driver.edit_text(33, s["message"]["message_id"], "an edited question", language_code="en") for s in sent]
    edits += [driver.send_text(33, "/help", edited=True, language_code="en") for _ in range(30)]
    await asyncio.gather(*edits)
    await asyncio.sleep(1.0)  # nothing more is coming
    assert len(await driver.messages(33)) == before, "60 edits in the same window got no answer"


async def test_an_answer_with_a_source_longer_than_telegram_allows_stays_formatted(gateway, caplog):
    engine, driver = gateway
    source = ("Law <No. 5> & Decree “A&B” > rules " * 200)[:5000]
    engine.scripted = {"long source": answer_reply(source=source)}
    caplog.set_level(logging.ERROR)
    replies = await driver.ask(63, "long source", language_code="en")
    await asyncio.sleep(0.3)
    replies = await driver.messages(63)
    assert all(r.get("parse_mode") == "HTML" for r in replies), "sent without formatting"
    assert not [r for r in caplog.records if "rejected our HTML" in r.getMessage()]
    assert "…" in text_of(replies[-1]) and buttons_of(replies[-1])
    assert (await driver.info())["refusals"] == []


async def test_button_presses_are_held_by_the_same_flood_control_and_each_is_answered(gateway):
    """Before, presses skipped flood control: each forged `/faq{…}` press cost an engine call, each rating
    press database work, however fast they came."""
    from bot.rendering import plain

    engine, driver = gateway
    user = 71

    async def press(data: str) -> str | None:
        pressed = await driver.press(user, user, 5000, data=data, forged=True)
        answer = await driver.wait_callback_answer(pressed["callback_query_id"])
        assert answer["answered"], "every press gets an answer"
        return (answer["answer"] or {}).get("text")

    await driver.ask(user, "hello")  # the chat's first message
    faq = '/faq{"entry": "registration_who_when_how"}'
    for _ in range(9):  # with the message, Settings.flood_messages: answered as usual
        assert await press(faq) != plain("en", "flood")
    asked = sum(body["sender"] == str(user) for body in engine.received)
    assert asked == 10
    held = [await press(data) for data in [faq] * 10 + ["rate:-:registration_who_when_how"] * 5]
    assert held == [plain("en", "flood")] * 15  # a toast, so no button keeps spinning
    assert sum(body["sender"] == str(user) for body in engine.received) == asked  # no engine call more
