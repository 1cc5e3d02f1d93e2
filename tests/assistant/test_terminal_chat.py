"""The terminal chat against the real emulator, with a python-telegram-bot `Bot` playing the assistant's side:
a turn shows every message of it, a button answered only with a toast does not freeze the chat, the staff
topic's copies count as the turn's answer, and the terminal's input and output fail soft."""

from __future__ import annotations

import asyncio
import io
import os
import time

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from assistant.launcher import DEMO_STAFF_MEMBER, DEMO_SUPPORT_CHAT
from assistant.terminal_chat import USER_ID, SafeOutput, TerminalChat, read_lines
from telegram_emulator.driver import EmulatorDriver
from tests.conftest import TOKEN


@pytest.fixture
async def chat(emulator):
    async with EmulatorDriver(emulator, TOKEN) as driver:
        await driver.create_chat(DEMO_SUPPORT_CHAT, "Support", is_forum=True, members=[DEMO_STAFF_MEMBER])
        yield TerminalChat(
            driver, color=False, out=io.StringIO(), staff_chats=(DEMO_SUPPORT_CHAT,), first_reply_s=5, settle_s=0.3
        )


async def next_update(bot: Bot, offset: int = 0, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updates = await bot.get_updates(offset=offset, timeout=0)
        if updates:
            return updates[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("no update")


async def test_a_turn_shows_all_its_messages_and_their_buttons(chat, bot):
    async def answer() -> None:
        update = await next_update(bot)
        assert update.message.text == "hello"
        await bot.send_message(USER_ID, "<b>Hi</b> &amp; welcome", parse_mode="HTML")
        await bot.send_message(
            USER_ID,
            "Rate it",
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("👍", callback_data="rate:+:x"),
                        InlineKeyboardButton("👎", callback_data="rate:-:x"),
                    ]
                ]
            ),
        )

    await asyncio.gather(chat.handle("hello"), answer())
    shown = chat.out.getvalue()
    assert "bot › Hi & welcome" in shown and "bot › Rate it" in shown and "[1] 👍  [2] 👎" in shown


async def test_a_button_answered_only_by_a_toast_returns_at_once(chat, bot):
    async def answer_the_message_then_the_press() -> None:
        update = await next_update(bot)
        await bot.send_message(
            USER_ID,
            "Rate it",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="rate:+:x")]]),
        )
        press = await next_update(bot, update.update_id + 1)
        assert press.callback_query.data == "rate:+:x"
        await press.callback_query.answer("Thank you for your feedback!")

    task = asyncio.create_task(answer_the_message_then_the_press())
    await chat.handle("hello")
    started = time.monotonic()
    await chat.handle(":1")
    await task
    assert "ⓘ Thank you for your feedback!" in chat.out.getvalue()
    assert time.monotonic() - started < chat.first_reply_s  # ended by the toast, not by the wait for a message
    assert "no reply within" not in chat.out.getvalue()


async def test_silence_is_reported_rather_than_waited_on_forever(chat):
    chat.first_reply_s = 0.5
    await chat.handle("anyone there?")
    assert "(no reply within" in chat.out.getvalue()


async def test_during_a_handoff_the_topic_copy_is_the_turns_answer_and_staff_reply_as_the_user_sees_it(chat, bot):
    topic = await bot.create_forum_topic(DEMO_SUPPORT_CHAT, "Ticket 1")

    async def relay() -> None:  # what the handoff desk does: the user's words into the ticket's topic
        update = await next_update(bot)
        await bot.send_message(
            DEMO_SUPPORT_CHAT, f"👤 {update.message.text}", message_thread_id=topic.message_thread_id
        )

    await asyncio.gather(chat.handle("I lost my passport"), relay())
    assert "staff topic › 👤 I lost my passport" in chat.out.getvalue()
    assert chat.topic == (DEMO_SUPPORT_CHAT, topic.message_thread_id)

    async def copy_to_user() -> None:
        update = await next_update(bot, (await bot.get_updates())[-1].update_id + 1)
        assert update.message.message_thread_id == topic.message_thread_id
        await bot.send_message(USER_ID, update.message.text)

    await asyncio.gather(chat.handle(":staff We will help you."), copy_to_user())
    assert "bot › We will help you." in chat.out.getvalue()


async def test_chat_commands_that_need_nothing_from_the_bot(chat):
    assert await chat.handle(":help")
    assert await chat.handle(":7")
    assert await chat.handle(":staff hello")
    assert await chat.handle(":dance")
    assert not await chat.handle(":quit")
    shown = chat.out.getvalue()
    assert ":staff /escalate NOTE" in shown
    assert "(no such button)" in shown and "(no open ticket" in shown and "unknown chat command :dance" in shown


async def test_typed_lines_arrive_whole_and_the_end_of_input_ends_the_chat():
    read_end, write_end = os.pipe()
    lines = read_lines(read_end)
    os.write(write_end, "Salam\nпри".encode())
    os.write(write_end, "вет\nlast line without newline".encode())
    os.close(write_end)
    received = [await asyncio.wait_for(lines.get(), 5) for _ in range(4)]
    assert received == ["Salam", "привет", "last line without newline", None]
    os.close(read_end)


def test_output_to_a_closed_pipe_is_dropped_not_raised():
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", buffering=1)
    out = SafeOutput(stream)
    out.write("shown\n")
    out.flush()
    assert os.read(read_end, 100) == b"shown\n"
    os.close(read_end)  # `tee` died with the Ctrl-C
    print("Stopping…", file=out, flush=True)
    print("Stopped.", file=out, flush=True)
    assert out.broken
    stream.close()  # its last flush goes to /dev/null now: no BrokenPipeError at the interpreter's exit
