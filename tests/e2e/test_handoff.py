"""Handing chats to people with the real engine: asked for in any language, after two messages in a row
that were not understood, and for situations that need a person; the relay both ways, escalation,
resolution with a rating, and a gateway restart in the middle. The staff groups are the demo ones the
stack makes in the emulator (assistant/launcher.py)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from assistant.launcher import DEMO_OFFICERS_CHAT, DEMO_STAFF_MEMBER, DEMO_SUPPORT_CHAT
from core.bootstrap import open_database
from core.data_key import sealer
from handoff.service import Handoff
from telegram_emulator.driver import buttons_of, text_of
from tests.e2e.conftest import stored_conversation

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(980_001)
OPENED = {
    "en": "passing our conversation to a person",
    "ru": "Передаю наш разговор сотруднику",
    "az": "Söhbətimizi Dövlət Miqrasiya Xidmətinin əməkdaşına ötürürəm",
}


async def topic_of(running, user: int, chat_id: int = DEMO_SUPPORT_CHAT) -> int:
    """The forum topic of the user's open ticket, once the gateway has made it."""
    database = await open_database(running.settings)
    try:
        tickets = Handoff(database.sessions, sealer(running.settings))
        for _ in range(200):
            ticket = await tickets.open_ticket_for(user)
            if ticket is not None and ticket.topic_id is not None and ticket.staff_chat_id == chat_id:
                return ticket.topic_id
            await asyncio.sleep(0.05)
    finally:
        await database.close()
    raise AssertionError(f"no topic for user {user}")


@pytest.mark.parametrize(
    ("language", "request_text"),
    [
        ("en", "could a real person help me please"),
        ("ru", "соедините меня с оператором"),
        ("az", "operatorla danışmaq istəyirəm"),
    ],
)
async def test_asking_for_a_person_in_any_language(running, language, request_text):
    user, driver = next(_users), running.driver
    (opened,) = await driver.ask(user, request_text, language_code=language, timeout=60)
    assert OPENED[language] in text_of(opened)
    topic = await topic_of(running, user)
    (header,) = await driver.topic_messages(DEMO_SUPPORT_CHAT, topic, 1)
    assert request_text in text_of(header)
    await driver.send_text(DEMO_STAFF_MEMBER, "/resolve", chat_id=DEMO_SUPPORT_CHAT, message_thread_id=topic)
    (back,) = await driver.wait_messages(user, 1, after_id=opened["message_id"])
    assert [b["text"] for b in buttons_of(back)] == ["👍", "👎"]


async def test_from_request_to_officers_and_back_to_the_bot(running):
    user, driver = next(_users), running.driver
    (answer,) = await driver.ask(
        user, "How do I get an electronic visa (ASAN Visa) to Azerbaijan?", language_code="en", timeout=60
    )
    assert "Source:" in text_of(answer)
    (opened,) = await driver.ask(user, "/person")
    assert OPENED["en"] in text_of(opened)
    topic = await topic_of(running, user)
    (header,) = await driver.topic_messages(DEMO_SUPPORT_CHAT, topic, 1)
    assert "electronic visa" in text_of(header) and "ASAN" in text_of(header)  # the conversation so far

    await driver.send_text(
        DEMO_STAFF_MEMBER, "Hello! What happened with your visa?", chat_id=DEMO_SUPPORT_CHAT, message_thread_id=topic
    )
    (relayed,) = await driver.wait_messages(user, 1)
    assert relayed["text"] == "Hello! What happened with your visa?"
    await driver.send_text(user, "It was refused, here is the letter")
    await driver.send(user, "document", file_name="refusal.pdf")
    copies = await driver.topic_messages(DEMO_SUPPORT_CHAT, topic, 3)
    assert (
        copies[1]["text"] == "It was refused, here is the letter"
        and copies[2]["document"]["file_name"] == "refusal.pdf"
    )
    assert "It was refused" not in stored_conversation(running, user), "the engine does not see the relayed chat"

    await driver.send_text(
        DEMO_STAFF_MEMBER,
        "/escalate refusal letter needs an officer's review",
        chat_id=DEMO_SUPPORT_CHAT,
        message_thread_id=topic,
    )
    (escalated,) = await driver.wait_messages(user, 1)
    assert "migration officer" in text_of(escalated)
    officers_topic = await topic_of(running, user, DEMO_OFFICERS_CHAT)
    (officers_header,) = await driver.topic_messages(DEMO_OFFICERS_CHAT, officers_topic, 1)
    assert "refusal letter needs an officer's review" in text_of(officers_header)
    done = next(b["callback_data"] for b in buttons_of(officers_header) if ":done:" in b["callback_data"])
    await driver.press(DEMO_STAFF_MEMBER, DEMO_OFFICERS_CHAT, officers_header["message_id"], data=done)
    (back,) = await driver.wait_messages(user, 1)
    assert "I am the assistant again" in text_of(back)

    (again,) = await driver.ask(user, "How do I get an electronic visa (ASAN Visa) to Azerbaijan?", timeout=60)
    assert "Source:" in text_of(again), "the bot answers again once the ticket is resolved"


async def test_two_messages_not_understood_in_a_row_go_to_a_person(running):
    user, driver = next(_users), running.driver
    # The model may take some gibberish for "out of scope" (understood, not ours): go on until a message is
    # not understood, then one more.
    gibberish = iter(["zxqv blorft wuggle", "plimbo snarf quazzle", "grix vump dooble tazz", "qwop fleeb nurk"])
    not_understood = ("not sure I understood", "could not find an answer")
    for _ in range(3):
        text = next(gibberish)
        (reply,) = await driver.ask(user, text, language_code="en", timeout=60)
        assert OPENED["en"] not in text_of(reply)
        if any(marker in text_of(reply) for marker in not_understood):
            break
    else:
        pytest.fail("three gibberish messages and none was 'not understood'")
    (second,) = await driver.ask(user, next(gibberish))
    assert "I still did not understand" in text_of(second)
    topic = await topic_of(running, user)
    (header,) = await driver.topic_messages(DEMO_SUPPORT_CHAT, topic, 1)
    assert text in text_of(header) and "did not understand twice" in text_of(header)


async def test_a_situation_that_needs_a_person_is_answered_and_handed_over(running):
    user, driver = next(_users), running.driver
    replies = await driver.ask(user, "my employer took my passport", language_code="en", expect=2, timeout=60)
    assert "152" in text_of(replies[0])  # the anti-trafficking hotline, from the knowledge base
    assert "may need personal help" in text_of(replies[1])
    await topic_of(running, user)


async def test_the_relay_goes_on_after_a_gateway_restart(running):
    user, driver = next(_users), running.driver
    (_opened,) = await driver.ask(user, "/person", language_code="ru", timeout=60)
    topic = await topic_of(running, user)
    await running.stack.restart_service("gateway")
    await driver.send_text(
        DEMO_STAFF_MEMBER, "Здравствуйте, я вас слушаю.", chat_id=DEMO_SUPPORT_CHAT, message_thread_id=topic
    )
    (relayed,) = await driver.wait_messages(user, 1, timeout=60)
    assert relayed["text"] == "Здравствуйте, я вас слушаю."
    await driver.send_text(user, "спасибо, вопрос про регистрацию")
    copies = await driver.topic_messages(DEMO_SUPPORT_CHAT, topic, 2)
    assert copies[-1]["text"] == "спасибо, вопрос про регистрацию"


async def test_the_terminal_chat_can_play_both_sides(running):
    import io

    from assistant.terminal_chat import USER_ID, TerminalChat

    out = io.StringIO()
    chat = TerminalChat(running.driver, color=False, out=out)
    await chat.handle(":staff hello")
    assert "no open ticket" in out.getvalue()
    await chat.handle("/person")
    assert "passing our conversation to a person" in out.getvalue() or "əməkdaşına ötürürəm" in out.getvalue()
    assert "staff topic ›" in out.getvalue()  # the ticket's header, as staff see it
    await chat.handle(":staff Good morning, how can I help?")
    assert "bot › Good morning, how can I help?" in out.getvalue()
    await chat.handle(":staff /resolve")
    assert "👍" in out.getvalue()
    database = await open_database(running.settings)
    try:
        assert await Handoff(database.sessions, sealer(running.settings)).open_ticket_for(USER_ID) is None
    finally:
        await database.close()
