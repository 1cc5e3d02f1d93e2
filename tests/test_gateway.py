"""The gateway (real python-telegram-bot Application, in process) against the emulator and a fake engine
(tests/gateway_support.py); the real engine is exercised in tests/e2e."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from assistant.settings import Settings
from telegram_emulator.driver import EmulatorDriver, text_of
from tests.conftest import TOKEN, free_port
from tests.gateway_support import FakeEngine, running_gateway, serve_fake_engine


@pytest.fixture
async def fake_engine() -> AsyncIterator[tuple[FakeEngine, str]]:
    async with serve_fake_engine() as served:
        yield served


@pytest.fixture
async def gateway(emulator, fake_engine, tmp_path):
    engine, engine_url = fake_engine
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_url=emulator,
        data_dir=tmp_path,
        engine_url=engine_url,
        engine_timeout_s=1.0,
        engine_retries=1,
        max_message_chars=200,
        action_server_port=int(engine_url.rsplit(":", 1)[1]),
    )
    async with running_gateway(settings), EmulatorDriver(emulator, TOKEN) as driver:
        yield engine, driver


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
    from bot.handlers import SERVICES

    _, engine_url = fake_engine
    settings = Settings(
        _env_file=None, telegram_bot_token=TOKEN, telegram_api_url=emulator, data_dir=tmp_path, engine_url=engine_url
    )
    async with running_gateway(settings) as application, EmulatorDriver(emulator, TOKEN) as driver:
        yield application.bot_data[SERVICES], driver


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
