"""The emulator, driven by the real python-telegram-bot `Bot`, behaves like the Bot API."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter

from telegram_emulator.driver import EmulatorDriver
from tests.conftest import TOKEN, free_port


@pytest.fixture
async def driver(emulator):
    async with EmulatorDriver(emulator, TOKEN) as driver:
        yield driver


async def test_get_me_and_bad_token(emulator, bot):
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456789
    from telegram.error import InvalidToken

    with pytest.raises(InvalidToken):
        async with Bot("123:bad token!", base_url=f"{emulator}/bot") as broken:
            await broken.get_me()


async def test_updates_with_offsets_and_command_entities(bot, driver):
    await driver.send_text(7, "/start")
    await driver.send_text(7, "hello")
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates] == ["/start", "hello"]
    assert updates[0].message.entities[0].type == "bot_command"
    # Confirming with offset removes them.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()


async def test_long_poll_returns_when_a_message_arrives(bot, driver):
    async def later():
        await asyncio.sleep(0.3)
        await driver.send_text(8, "late message")

    task = asyncio.create_task(later())
    updates = await bot.get_updates(timeout=5)
    await task
    assert updates[0].message.text == "late message"


async def test_send_message_html_rules(bot, driver):
    await driver.send_text(9, "hi")
    sent = await bot.send_message(9, "<b>bold</b> &amp; <i>it</i>", parse_mode="HTML")
    assert sent.text == "bold & it"
    assert [e.type for e in sent.entities] == ["bold", "italic"]
    for bad in ("<div>x</div>", "<b>unclosed", "5 < 6", "Tom & Jerry", "<b><i>x</b></i>"):
        with pytest.raises(BadRequest, match=r"(?i)parse entities"):
            await bot.send_message(9, bad, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(9, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)empty"):
        await bot.send_message(9, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "nobody")
    refusals = (await driver.info())["refusals"]  # what tests check to know every reply was valid
    assert len(refusals) == 8 and refusals[0]["method"] == "sendMessage" and refusals[0]["error_code"] == 400
    # 4096 UTF-16 units is the limit: 2048 emoji fit, 2049 do not.
    await bot.send_message(9, "😀" * 2048)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(9, "😀" * 2049)


async def test_buttons_press_and_answer(bot, driver):
    await driver.send_text(10, "hi")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(10, "Confirm?", reply_markup=markup)
    pressed = await driver.press(10, 10, sent.message_id, data="yes")
    updates = await bot.get_updates(timeout=1)
    query = updates[-1].callback_query
    assert query.data == "yes" and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="ok")
    assert (await driver.callback_answer(pressed["callback_query_id"]))["answer"]["text"] == "ok"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(10, "x", reply_markup=too_long)


async def test_edit_and_not_modified(bot, driver):
    await driver.send_text(11, "hi")
    sent = await bot.send_message(11, "first")
    edited = await bot.edit_message_text("second", chat_id=11, message_id=sent.message_id)
    assert edited.text == "second"
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("second", chat_id=11, message_id=sent.message_id)


async def test_scripted_429_and_blocked_user(bot, driver):
    await driver.send_text(12, "hi")
    await driver.add_fault(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 2", retry_after=2, times=1
    )
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(12, "x")
    retry_after = caught.value.retry_after
    assert getattr(retry_after, "total_seconds", lambda: retry_after)() == 2
    await bot.send_message(12, "now it works")
    await driver.block(12)
    with pytest.raises(Forbidden):
        await bot.send_message(12, "blocked")


async def test_group_membership_decides_who_may_post_and_what_get_chat_member_says(bot, driver):
    await driver.create_chat(-100600, "Staff", is_forum=True, members=[1])
    assert (await bot.get_chat_member(-100600, 1)).status == "member"
    assert (await bot.get_chat_member(-100600, 2)).status == "left"
    with pytest.raises(RuntimeError, match="not a member"):
        await driver.send_text(2, "let me in", chat_id=-100600)
    await driver.set_members(-100600, add=[2])
    await driver.send_text(2, "now I am in", chat_id=-100600)
    assert (await bot.get_chat_member(-100600, 2)).status == "member"
    await driver.set_members(-100600, remove=[2])
    assert (await bot.get_chat_member(-100600, 2)).status == "left"
    assert (await bot.get_chat_member(-100600, bot.id)).status == "administrator"


async def test_forum_topics_and_commands(bot, driver):
    await driver.create_chat(-100500, "Staff", is_forum=True, members=[1])
    topic = await bot.create_forum_topic(-100500, "Ticket 1")
    await bot.send_message(-100500, "hello staff", message_thread_id=topic.message_thread_id)
    assert await bot.close_forum_topic(-100500, topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)topic_closed"):
        await bot.send_message(-100500, "late", message_thread_id=topic.message_thread_id)
    from telegram import BotCommand

    await bot.set_my_commands([BotCommand("help", "Help")], language_code="ru")
    assert (await bot.get_my_commands(language_code="ru"))[0].command == "help"
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


async def _until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)


async def test_an_update_in_flight_when_the_webhook_changes_goes_to_the_new_one_in_order(bot, driver):
    stuck, released = asyncio.Event(), asyncio.Event()
    received: list[str] = []

    async def old_hook(request: web.Request) -> web.Response:
        stuck.set()
        await released.wait()  # no answer while the test runs
        return web.Response()

    async def new_hook(request: web.Request) -> web.Response:
        received.append((await request.json())["message"]["text"])
        return web.Response()

    old_runner, old_url = await _serve(old_hook)
    new_runner, new_url = await _serve(new_hook)
    try:
        assert await bot.set_webhook(old_url)
        await driver.send_text(14, "first")
        await asyncio.wait_for(stuck.wait(), 10)
        await driver.send_text(14, "second")
        assert await bot.set_webhook(new_url)
        await _until(lambda: len(received) == 2)
        assert received == ["first", "second"]
        assert (await bot.get_webhook_info()).pending_update_count == 0
    finally:
        released.set()
        await bot.delete_webhook()
        await old_runner.cleanup()
        await new_runner.cleanup()


async def test_webhook_delivery_with_secret_and_retry(bot, driver):
    received: list[tuple[str | None, dict]] = []
    failures = {"left": 1}

    async def hook(request: web.Request) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()

    runner, url = await _serve(hook)
    try:
        assert await bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(Conflict):
            await bot.get_updates()
        await driver.send_text(13, "first")
        await driver.send_text(13, "second")
        await _until(lambda: len(received) == 2)
        assert [body["message"]["text"] for _, body in received] == ["first", "second"]
        assert {secret for secret, _ in received} == {"s3cret"}
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0 and info.last_error_message
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
