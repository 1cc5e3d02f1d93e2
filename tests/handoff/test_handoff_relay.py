"""Handing chats to people: the real gateway against the emulator (with staff forum groups) and a fake engine.

The engine's part (when to hand over) is tested with the real engine in tests/e2e/test_handoff.py; here the
gateway's part: tickets, topics, relaying both ways, staff buttons and commands, restarts, Telegram failures.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from core.bootstrap import open_database
from core.data_key import sealer
from core.settings import Settings
from handoff.hours import WorkingHours
from handoff.service import Handoff
from telegram_emulator.driver import EmulatorDriver, buttons_of, text_of
from telegram_emulator.html_check import parse_html
from tests.conftest import TOKEN
from tests.support.gateway import running_gateway, serve_fake_engine
from tests.support.handoff_desk import (
    HANDOFF,
    OFFICER,
    OFFICERS,
    STRANGER,
    SUPPORT,
    SUPPORT_AGENT,
    only_topic,
    staff_settings,
)
from tests.support.handoff_desk import desk as desk  # the fixture: a gateway with staff groups, a fake engine


async def tickets(settings: Settings) -> Handoff:
    database = await open_database(settings)
    return Handoff(database.sessions, sealer(settings))


async def test_stopping_the_gateway_while_a_topic_is_made_keeps_the_topic(emulator, tmp_path):
    async with serve_fake_engine() as (engine, engine_url), EmulatorDriver(emulator, TOKEN) as driver:
        await driver.create_chat(SUPPORT, "Support", is_forum=True, members=[SUPPORT_AGENT])
        engine.scripted["/human_handoff"] = HANDOFF
        settings = staff_settings(emulator, engine_url, tmp_path)
        await driver.add_fault("createForumTopic", delay_s=1.0)
        async with running_gateway(settings):
            await driver.ask(43, "/person", language_code="en")
        # The gateway stopped while Telegram was making the topic: the ticket must know its topic, or the
        # sweeper would give it a second one after the restart.
        assert len(await driver.topics(SUPPORT)) == 1
        assert await (await tickets(settings)).without_topic() == []


async def test_a_ticket_from_request_to_rating(desk):
    engine, driver, settings, _ = desk
    await driver.ask(42, "how do I register?", language_code="en")
    opened = await driver.ask(42, "/person")
    assert "passing our conversation to a person" in text_of(opened[0])
    assert "Monday–Sunday" in text_of(opened[0])

    topic = await only_topic(driver, SUPPORT)
    (header,) = await driver.topic_messages(SUPPORT, topic, 1)
    assert "how do I register?" in text_of(header) and "echo: how do I register?" in text_of(header)
    assert [b["callback_data"].split(":")[1] for b in buttons_of(header)] == ["take", "esc", "done"]

    # The user writes: it reaches the topic, not the engine.
    asked = len(engine.received)
    await driver.send_text(42, "I lost my registration paper")
    await driver.send(42, "photo", caption="this one")
    copies = await driver.topic_messages(SUPPORT, topic, 3)
    assert copies[1]["text"] == "I lost my registration paper" and copies[2]["caption"] == "this one"
    assert len(engine.received) == asked

    # Support answers in the topic: the user gets it.
    await driver.send_text(SUPPORT_AGENT, "Hello, I can help with that.", chat_id=SUPPORT, message_thread_id=topic)
    (relayed,) = await driver.wait_messages(42, 1)
    assert relayed["text"] == "Hello, I can help with that."

    # Support escalates with a note: a new topic in the officers' group, the user is told.
    await driver.send_text(
        SUPPORT_AGENT, "/escalate needs a decision on the fine", chat_id=SUPPORT, message_thread_id=topic
    )
    (told,) = await driver.wait_messages(42, 1)
    assert "migration officer" in text_of(told)
    assert (await driver.topics(SUPPORT))[str(topic)]["closed"]
    officers_topic = await only_topic(driver, OFFICERS)
    (officers_header,) = await driver.topic_messages(OFFICERS, officers_topic, 1)
    assert "needs a decision on the fine" in text_of(officers_header)
    assert "I lost my registration paper" in text_of(officers_header)
    assert [b["callback_data"].split(":")[1] for b in buttons_of(officers_header)] == ["take", "done"]

    await driver.send_text(OFFICER, "The fine is waived.", chat_id=OFFICERS, message_thread_id=officers_topic)
    (relayed,) = await driver.wait_messages(42, 1)
    assert relayed["text"] == "The fine is waived."

    # An officer resolves: the bot is back and asks for a rating.
    resolve = next(b["callback_data"] for b in buttons_of(officers_header) if ":done:" in b["callback_data"])
    await driver.press(OFFICER, OFFICERS, officers_header["message_id"], data=resolve)
    (back,) = await driver.wait_messages(42, 1)
    assert "I am the assistant again" in text_of(back)
    thumbs_up = buttons_of(back)[0]["callback_data"]
    pressed = await driver.press(42, 42, back["message_id"], data=thumbs_up)
    assert (await driver.wait_callback_answer(pressed["callback_query_id"]))["answer"]["text"].startswith("Thank")
    (reply,) = await driver.ask(42, "and now?")
    assert text_of(reply) == "echo: and now?"

    handoff = await tickets(settings)
    (ticket,) = await handoff.listing()
    assert ticket["state"] == "resolved" and ticket["queue"] == "officers" and ticket["rating"] == 1
    stored = await handoff.get(ticket["id"])
    assert stored is not None
    authors = [m.author for m in stored.messages]
    assert authors[:2] == ["user", "bot"] and "staff:User501" in authors and "staff:User601" in authors
    assert stored.first_response_at is not None and stored.resolved_at is not None


async def test_only_staff_group_members_can_act(desk):
    _, driver, settings, _ = desk
    await driver.ask(43, "/person", language_code="ru")
    topic = await only_topic(driver, SUPPORT)
    (header,) = await driver.topic_messages(SUPPORT, topic, 1)
    take = next(b["callback_data"] for b in buttons_of(header) if ":take:" in b["callback_data"])

    pressed = await driver.press(STRANGER, SUPPORT, header["message_id"], data=take)
    answer = await driver.wait_callback_answer(pressed["callback_query_id"])
    assert answer["answer"]["show_alert"] and "Only members" in answer["answer"]["text"]
    (ticket,) = await (await tickets(settings)).listing()
    assert ticket["state"] == "waiting" and ticket["assignee"] is None

    # A member who has left the group cannot act either.
    await driver.set_members(SUPPORT, add=[STRANGER])
    await driver.set_members(SUPPORT, remove=[STRANGER])
    pressed = await driver.press(STRANGER, SUPPORT, header["message_id"], data=take)
    assert "Only members" in (await driver.wait_callback_answer(pressed["callback_query_id"]))["answer"]["text"]

    pressed = await driver.press(SUPPORT_AGENT, SUPPORT, header["message_id"], data=take)
    await driver.wait_callback_answer(pressed["callback_query_id"])
    (_, taken) = await driver.topic_messages(SUPPORT, topic, 2)
    assert "has taken this ticket" in text_of(taken)
    (ticket,) = await (await tickets(settings)).listing()
    assert ticket["state"] == "assigned" and ticket["assignee"] == "User501"


async def test_the_relay_survives_a_gateway_restart(emulator, tmp_path):
    async with serve_fake_engine() as (engine, engine_url), EmulatorDriver(emulator, TOKEN) as driver:
        await driver.create_chat(SUPPORT, "Support", is_forum=True, members=[SUPPORT_AGENT])
        await driver.create_chat(OFFICERS, "Officers", is_forum=True, members=[OFFICER])
        engine.scripted["/human_handoff"] = HANDOFF
        settings = staff_settings(emulator, engine_url, tmp_path)
        async with running_gateway(settings):
            await driver.ask(44, "/person", language_code="az")
            topic = await only_topic(driver, SUPPORT)
        # Meanwhile, with no gateway running, both sides write.
        await driver.send_text(44, "are you there?")
        await driver.send_text(SUPPORT_AGENT, "Yes, one moment.", chat_id=SUPPORT, message_thread_id=topic)
        async with running_gateway(settings):
            (relayed,) = await driver.wait_messages(44, 1)
            assert relayed["text"] == "Yes, one moment."
            copies = await driver.topic_messages(SUPPORT, topic, 2)
            assert copies[-1]["text"] == "are you there?"
            await driver.send_text(SUPPORT_AGENT, "/resolve", chat_id=SUPPORT, message_thread_id=topic)
            (back,) = await driver.wait_messages(44, 1)
            assert [b["text"] for b in buttons_of(back)] == ["👍", "👎"]
        handoff = await tickets(settings)
        (ticket,) = await handoff.listing()
        stored = await handoff.get(ticket["id"])
        assert stored is not None
        lines = [(m.author, m.text) for m in stored.messages]
        assert ("user", "are you there?") in lines and ("staff:User501", "Yes, one moment.") in lines


async def test_telegram_failures_lose_nothing(desk):
    _, driver, _, application = desk
    await driver.add_fault("createForumTopic", error_code=500, description="Internal Server Error", times=1)
    (opened,) = await driver.ask(45, "/person", language_code="en")
    assert "passing our conversation to a person" in text_of(opened)
    assert await driver.topics(SUPPORT) == {}
    await application.bot_data.services.desk.sweep()  # the periodic sweeper, run now
    topic = await only_topic(driver, SUPPORT)
    await driver.topic_messages(SUPPORT, topic, 1)

    # Someone closes the topic by hand: the user's next message opens a new one, with the transcript.
    await application.bot.close_forum_topic(SUPPORT, topic)
    await driver.send_text(45, "hello?")
    for _ in range(100):
        if len(await driver.topics(SUPPORT)) == 2:
            break
        await asyncio.sleep(0.05)
    new_topic = max(int(t) for t in await driver.topics(SUPPORT))
    messages = await driver.topic_messages(SUPPORT, new_topic, 2)
    assert messages[-1]["text"] == "hello?"

    # The user blocks the bot: staff are told their message did not arrive.
    await driver.block(45)
    await driver.send_text(SUPPORT_AGENT, "Here is the answer", chat_id=SUPPORT, message_thread_id=new_topic)
    notices = await driver.topic_messages(SUPPORT, new_topic, 3)
    assert "blocked the bot" in text_of(notices[-1])


async def test_asking_twice_makes_one_ticket_and_staff_notes_stay_in_the_topic(desk):
    _, driver, settings, _ = desk
    await driver.ask(46, "/person", language_code="en")
    topic = await only_topic(driver, SUPPORT)
    await driver.topic_messages(SUPPORT, topic, 1)
    await driver.send_text(46, "/person")
    copies = await driver.topic_messages(SUPPORT, topic, 2)
    assert copies[-1]["text"] == "/person", "while people have the chat, even commands go to them"
    await driver.send_text(
        SUPPORT_AGENT, "!checked the database, nothing found", chat_id=SUPPORT, message_thread_id=topic
    )
    await driver.send_text(SUPPORT_AGENT, "We are checking.", chat_id=SUPPORT, message_thread_id=topic)
    (relayed,) = await driver.wait_messages(46, 1)
    assert relayed["text"] == "We are checking.", "the note must not reach the user"
    handoff = await tickets(settings)
    assert len(await handoff.listing()) == 1
    (ticket,) = await handoff.listing()
    stored = await handoff.get(ticket["id"])
    assert stored is not None
    kinds = [(m.author, m.kind) for m in stored.messages]
    assert ("staff:User501", "note") in kinds


async def test_without_a_staff_group_the_user_gets_the_contacts(emulator, tmp_path):
    async with serve_fake_engine() as (engine, engine_url), EmulatorDriver(emulator, TOKEN) as driver:
        engine.scripted["/human_handoff"] = HANDOFF
        settings = Settings(
            _env_file=None,
            telegram_bot_token=TOKEN,
            telegram_api_url=emulator,
            data_dir=tmp_path,
            engine_url=engine_url,
        )
        async with running_gateway(settings):
            (reply,) = await driver.ask(47, "/person", language_code="en")
            assert "919" in text_of(reply)
            (reply,) = await driver.ask(47, "still the bot?")
            assert text_of(reply) == "echo: still the bot?"


async def test_people_are_reachable_when_the_engine_is_down(desk):
    engine, driver, _, _ = desk
    engine.mode = "error"
    (down,) = await driver.ask(48, "hello", language_code="en")
    assert "technical problem" in text_of(down)
    (person,) = buttons_of(down)
    pressed = await driver.press(48, 48, down["message_id"], data=person["callback_data"])
    await driver.wait_callback_answer(pressed["callback_query_id"])
    (opened,) = await driver.wait_messages(48, 1)
    assert "passing our conversation to a person" in text_of(opened)
    await only_topic(driver, SUPPORT)


def test_working_hours_in_the_users_language():
    hours = WorkingHours.parse("Mon-Fri 09:00-18:00", "Asia/Baku")
    friday_evening = dt.datetime(2026, 11, 27, 15, 30, tzinfo=dt.UTC)  # 19:30 in Baku
    assert not hours.is_open(friday_evening)
    monday = hours.next_opening(friday_evening)
    assert monday.isoformat() == "2026-11-30T09:00:00+04:00"
    assert hours.is_open(monday) and hours.next_opening(monday) == monday
    assert hours.describe("en") == "Monday–Friday, 09:00–18:00"
    assert hours.describe("ru") == "понедельник–пятница, 09:00–18:00"
    assert hours.format_moment(monday, "az") == "bazar ertəsi, 30 noyabr, 09:00"
    assert hours.format_moment(monday, "en") == "Monday, 30 November, 09:00"
    assert hours.describe("az") == "bazar ertəsi–cümə, 09:00–18:00"  # lower case whatever CLDR's version
    assert WorkingHours.parse("Sat,Sun 10:00-14:00", "Asia/Baku").describe("en") == "Saturday, Sunday, 10:00–14:00"
    with pytest.raises(ValueError, match=r"expected e\.g\."):
        WorkingHours.parse("weekdays 9-6", "Asia/Baku")


def test_the_user_is_told_when_people_are_back(tmp_path):
    from bot.handoff_desk import HandoffDesk
    from bot.recent import RecentLines
    from core.coordination import MemoryCoordination

    settings = Settings(_env_file=None, data_dir=tmp_path, staff_support_chat_id=SUPPORT)
    desk = HandoffDesk(None, None, settings, RecentLines(MemoryCoordination()))  # type: ignore[arg-type]
    saturday = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    text = parse_html(desk.hours_text("ru", saturday)).text
    assert "понедельник, 30 ноября, 09:00" in text
    assert "minutes" in parse_html(desk.hours_text("en", dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC))).text
