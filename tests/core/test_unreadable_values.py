"""A value that no configured key decrypts (a data key dropped too early while rotating, or rows encrypted with
a key this installation never had) is contained: the rest of its ticket, every other ticket and subscription,
the user's messages, staff's topic and the console all keep working; the log names the row, never its data."""

from __future__ import annotations

import logging

from telegram import Bot

from bot.status_notifier import StatusNotifier
from cases.subscriptions import Subscriptions
from core.bootstrap import open_database
from core.data_key import Sealer, new_data_key, sealer
from core.secret_key import secret_key
from core.settings import Settings
from handoff.service import UNREADABLE, Handoff
from telegram_emulator.driver import EmulatorDriver, text_of
from tests.conftest import TOKEN
from tests.support.console import client_for
from tests.support.console import console_server as console_server  # the fixture: a console with staff accounts
from tests.support.data_at_rest import ACCESS_TOKEN, FIN, PASSPORT, FakeCases
from tests.support.handoff_desk import SUPPORT, SUPPORT_AGENT, only_topic
from tests.support.handoff_desk import desk as desk  # the fixture: a gateway with staff groups, a fake engine

CHAT, OTHER_CHAT = 424242431, 424242432


def foreign(settings: Settings) -> Sealer:
    """Encrypts with a key the installation does not have; hashes chats like it (the secret key is another)."""
    return Sealer([new_data_key()], secret_key(settings))


async def test_a_ticket_with_unreadable_values_still_shows_the_rest(db_settings: Settings, caplog):
    database = await open_database(db_settings)
    try:
        lost = Handoff(database.sessions, foreign(db_settings))
        ticket, _ = await lost.open_ticket(CHAT, "en", "asked", [("user", f"passport {PASSPORT}")])
        await lost.escalate(ticket.id, "sam", f"FIN {FIN}")
        fine, _ = await lost.open_ticket(OTHER_CHAT, "en", "asked")

        tickets = Handoff(database.sessions, sealer(db_settings))
        await tickets.add_message(ticket.id, "user", "written after the key was lost")
        with caplog.at_level(logging.WARNING, logger="handoff.service"):
            found = await tickets.open_ticket_for(CHAT)  # on every message of that chat: it knows the chat
            viewed = await tickets.get(ticket.id)
            listed = await tickets.listing()
        assert found is not None and found.chat_id == CHAT
        assert [line.text for line in found.messages] == [UNREADABLE, UNREADABLE, "written after the key was lost"]
        assert viewed is not None and viewed.chat_id is None and viewed.escalation_note == UNREADABLE
        assert [t["id"] for t in listed] == [fine.id, ticket.id]  # the newest first
        assert (ticket.id, [("user", UNREADABLE)]) in [(t["id"], t["preview"][:1]) for t in listed]
        logged = caplog.text
        assert f"ticket {ticket.id}: chat id, note, 2× transcript line not decrypted" in logged
        assert PASSPORT not in logged and FIN not in logged and str(CHAT) not in logged
    finally:
        await database.close()


async def test_the_users_messages_still_reach_staff_when_their_ticket_cannot_be_read(desk):
    _, driver, settings, _ = desk
    database = await open_database(settings)
    try:
        lost = Handoff(database.sessions, foreign(settings))
        await lost.open_ticket(CHAT, "en", "asked", [("user", f"passport {PASSPORT}")])
    finally:
        await database.close()

    await driver.send_text(CHAT, "are you still there?", language_code="en")
    topic = await only_topic(driver, SUPPORT)
    header, copy = await driver.topic_messages(SUPPORT, topic, 2)
    assert UNREADABLE in text_of(header) and PASSPORT not in text_of(header)
    assert copy["text"] == "are you still there?"

    # Staff answer: nothing can reach a chat whose id cannot be read, and they are told so.
    await driver.send_text(SUPPORT_AGENT, "Yes, how can I help?", chat_id=SUPPORT, message_thread_id=topic)
    told = (await driver.topic_messages(SUPPORT, topic, 3))[2]
    assert "could not be delivered" in text_of(told)
    assert not [m for m in await driver.messages(CHAT) if "went wrong" in text_of(m)]


async def test_the_notifier_serves_the_other_subscriptions(tmp_path, emulator, bot: Bot, caplog):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    database = await open_database(settings)
    try:
        lost = Subscriptions(database.sessions, foreign(settings))
        subscriptions = Subscriptions(database.sessions, sealer(settings))
        for chat, owner in ((CHAT, lost), (OTHER_CHAT, subscriptions)):
            assert await owner.activate(await owner.offer(chat, "en", ACCESS_TOKEN, "submitted"), chat, "en")
        async with EmulatorDriver(emulator, TOKEN) as driver:
            await driver.send_text(OTHER_CHAT, "hello")  # the chat exists for the emulator
            notifier = StatusNotifier(bot, subscriptions, FakeCases(ACCESS_TOKEN, "approved"), 300.0)  # type: ignore[arg-type]
            with caplog.at_level(logging.WARNING, logger="cases.subscriptions"):
                assert await notifier.run_once() == 1
            (told,) = await driver.wait_messages(OTHER_CHAT, 1)
        assert "TRP-2026-000102" in text_of(told)
        assert "subscriptions 1 skipped" in caplog.text and ACCESS_TOKEN not in caplog.text
        assert len(await lost.active()) == 1, "kept: readable again once its key is back"
    finally:
        await database.close()


async def test_the_consoles_ticket_pages_render(console_server, db_settings: Settings):
    server, _ = console_server
    database = await open_database(db_settings)
    try:
        ticket, _ = await Handoff(database.sessions, foreign(db_settings)).open_ticket(
            CHAT, "en", "asked", [("user", f"passport {PASSPORT}")]
        )
    finally:
        await database.close()
    async with client_for(server, "erin") as client:
        listing = await client.get("/tickets")
        assert listing.status == 200 and f"#{ticket.id}" in await listing.text()
        detail = await client.get(f"/tickets/{ticket.id}")
        assert detail.status == 200 and "unreadable: encrypted with a key no longer configured" in await detail.text()
