"""Data at rest: what the database holds, read as an attacker who copied the file would (plain sqlite3), holds
no personal data, access token or chat id in clear; staff, the notifier and the gateway still read it all; the
data key rotates; rows of an older version are converted by the migration; every file is private."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command
from telegram import Bot

from assistant.resealing import check_all, rotate
from bot.preferences import LanguagePreferences
from bot.status_notifier import StatusNotifier
from cases.subscriptions import Subscriptions
from core.bootstrap import open_database
from core.data_key import DataKeyError, Sealer, data_keys, key_file, new_data_key, read_key_file, sealer
from core.db import make_engine
from core.migrations import alembic_config
from core.secret_key import MissingKeyError, secret_key
from core.settings import PROJECT_ROOT, Settings
from handoff.service import Handoff
from telegram_emulator.driver import EmulatorDriver, text_of
from tests.conftest import TOKEN
from tests.support.data_at_rest import (
    ACCESS_TOKEN,
    CHAT,
    FIN,
    PASSPORT,
    PHONE,
    FakeCases,
    assert_nothing_in_clear,
    assert_private,
)
from tests.support.handoff_desk import OFFICERS, SUPPORT, SUPPORT_AGENT, only_topic
from tests.support.handoff_desk import desk as desk  # the fixture: a gateway with staff groups, a fake engine

BEFORE_THIS_REVISION = "6e3a2c9d4f03"


# ------------------------------------------------------------------ handoff transcripts


async def test_a_handoff_keeps_passport_phone_and_fin_out_of_the_database_while_staff_read_them(desk):
    _, driver, settings, _ = desk
    await driver.ask(CHAT, f"My passport is {PASSPORT} and my phone {PHONE}", language_code="en")
    await driver.ask(CHAT, "/person")
    topic = await only_topic(driver, SUPPORT)
    await driver.send_text(CHAT, f"My FIN is {FIN}")
    await driver.topic_messages(SUPPORT, topic, 2)
    await driver.send_text(
        SUPPORT_AGENT, f"/escalate check passport {PASSPORT}", chat_id=SUPPORT, message_thread_id=topic
    )
    await driver.wait_messages(CHAT, 1)
    officers_topic = await only_topic(driver, OFFICERS)
    (header,) = await driver.topic_messages(OFFICERS, officers_topic, 1)

    # Staff read the conversation as written: the officers' topic is made from the database after the fact.
    assert PASSPORT in text_of(header) and PHONE in text_of(header) and FIN in text_of(header)
    assert_nothing_in_clear(settings.data_dir, PASSPORT, PHONE, PHONE.replace(" ", ""), FIN)

    database = await open_database(settings)
    try:
        tickets = Handoff(database.sessions, sealer(settings))
        ticket = await tickets.open_ticket_for(CHAT)
        assert ticket is not None and ticket.chat_id == CHAT and PASSPORT in (ticket.escalation_note or "")
        assert any(FIN in line.text for line in ticket.messages)
        found = await tickets.transcript(ticket.id)  # the console's view: readable, and redacted as before
        assert found is not None and not [t for _, _, t, _ in found[1] if FIN in t]
    finally:
        await database.close()


# ------------------------------------------------------------------ subscriptions and preferences


async def test_subscriptions_keep_the_access_token_sealed_and_the_notifier_still_tells(tmp_path, emulator, bot: Bot):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    database = await open_database(settings)
    try:
        subscriptions = Subscriptions(database.sessions, sealer(settings))
        offer = await subscriptions.offer(CHAT, "en", ACCESS_TOKEN, "submitted")
        assert not await subscriptions.activate(offer, CHAT + 1, "en"), "another chat cannot take the offer"
        assert await subscriptions.activate(offer, CHAT, "en")
        assert_nothing_in_clear(tmp_path, ACCESS_TOKEN)

        cases = FakeCases(ACCESS_TOKEN, "approved")
        async with EmulatorDriver(emulator, TOKEN) as driver:
            await driver.send_text(CHAT, "hello")  # the chat exists for the emulator
            notifier = StatusNotifier(bot, subscriptions, cases, 300.0)  # type: ignore[arg-type]
            assert await notifier.run_once() == 1
            (told,) = await driver.wait_messages(CHAT, 1)
        assert cases.asked == [ACCESS_TOKEN] and "TRP-2026-000102" in text_of(told)
        assert_nothing_in_clear(tmp_path, ACCESS_TOKEN)
    finally:
        await database.close()


async def test_preferences_hold_no_chat_id(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    database = await open_database(settings)
    try:
        preferences = LanguagePreferences(database.sessions, "az", sealer(settings))
        await preferences.set(CHAT, "ru", explicit=True)
        assert await preferences.resolve(CHAT, "How do I register?", "en") == "ru"
        assert await preferences.resolve(CHAT + 1, None, "en") == "en"
    finally:
        await database.close()
    assert_nothing_in_clear(tmp_path, chat_ids=(CHAT,))


# ------------------------------------------------------------------ rotation


async def fill(settings: Settings) -> int:
    """A ticket with a transcript and an escalation note, and an active subscription; the ticket's id."""
    database = await open_database(settings)
    try:
        seal = sealer(settings)
        tickets = Handoff(database.sessions, seal)
        ticket, _ = await tickets.open_ticket(CHAT, "en", "asked", [("user", f"passport {PASSPORT}")])
        await tickets.add_message(ticket.id, "user", f"FIN {FIN}")
        await tickets.escalate(ticket.id, "sam", f"phone {PHONE}")
        subscriptions = Subscriptions(database.sessions, seal)
        await subscriptions.activate(await subscriptions.offer(CHAT, "en", ACCESS_TOKEN, "submitted"), CHAT, "en")
        return ticket.id
    finally:
        await database.close()


async def assert_readable(settings: Settings, ticket_id: int) -> None:
    database = await open_database(settings)
    try:
        seal = sealer(settings)
        ticket = await Handoff(database.sessions, seal).get(ticket_id)
        assert ticket is not None and ticket.chat_id == CHAT and ticket.escalation_note == f"phone {PHONE}"
        assert [line.text for line in ticket.messages][:2] == [f"passport {PASSPORT}", f"FIN {FIN}"]
        (active,) = await Subscriptions(database.sessions, seal).active()
        assert (active.chat_id, active.access_token) == (CHAT, ACCESS_TOKEN)
    finally:
        await database.close()


async def count_readable_with(settings: Settings, keys: list[str]) -> int:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(check_all, Sealer(keys, secret_key(settings)))
    finally:
        await engine.dispose()


async def test_rotating_the_data_folders_key_while_a_service_runs(db_settings: Settings):
    ticket_id = await fill(db_settings)
    (key_a,) = data_keys(db_settings)
    database = await open_database(db_settings)  # a gateway started before the rotation
    try:
        running = Handoff(database.sessions, sealer(db_settings))
        assert (await running.get(ticket_id)) is not None
        said: list[str] = []
        assert await rotate(db_settings, said.append, grace_s=0) == 0

        (key_b,) = read_key_file(key_file(db_settings))
        assert key_b != key_a and stat.S_IMODE(key_file(db_settings).stat().st_mode) == 0o600
        # The running service reads what was re-encrypted, and what it writes now is in the new key.
        assert (await running.get(ticket_id)).chat_id == CHAT  # type: ignore[union-attr]
        await running.add_message(ticket_id, "user", "after the rotation")
    finally:
        await database.close()
    await assert_readable(db_settings, ticket_id)
    assert await count_readable_with(db_settings, [key_b]) == 8  # 4 lines, the note, the chat; the chat, the token
    with pytest.raises(DataKeyError, match="none of the data keys"):
        await count_readable_with(db_settings, [key_a])
    report = "\n".join(said)
    assert "handoff_messages: 3 values re-encrypted" in report
    assert PASSPORT not in report and ACCESS_TOKEN not in report and key_b not in report


async def test_rotating_keys_the_operators_set(db_settings: Settings):
    key_a, key_b = new_data_key(), new_data_key()
    folders_key = key_file(db_settings).read_text() if key_file(db_settings).exists() else None  # PostgreSQL's
    with_a = db_settings.model_copy(update={"data_key": sa_secret(key_a)})
    ticket_id = await fill(with_a)

    said: list[str] = []
    assert await rotate(with_a, said.append, grace_s=0) == 0, "one key: nothing to re-encrypt, only how to rotate"
    assert "ASSISTANT_DATA_KEYS_PREVIOUS" in "\n".join(said)

    both = db_settings.model_copy(update={"data_key": sa_secret(key_b), "data_keys_previous": sa_secret(key_a)})
    await assert_readable(both, ticket_id)  # the services restarted with both keys read everything
    assert await rotate(both, said.append, grace_s=0) == 0
    only_b = db_settings.model_copy(update={"data_key": sa_secret(key_b)})
    await assert_readable(only_b, ticket_id)
    assert await count_readable_with(only_b, [key_b]) == 7
    assert (key_file(db_settings).read_text() if key_file(db_settings).exists() else None) == folders_key, (
        "operators' keys: no key file is made or changed"
    )

    wrong = db_settings.model_copy(
        update={"data_key": sa_secret(new_data_key()), "data_keys_previous": sa_secret(key_a)}
    )
    assert await rotate(wrong, said.append, grace_s=0) == 1, "data that no key decrypts: nothing changes"
    await assert_readable(only_b, ticket_id)


def sa_secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)


# ------------------------------------------------------------------ rows of an older version


async def older_ticket(settings: Settings) -> None:
    """The database at the revision before this one, with ticket 1 stored as that version stored it."""
    config = alembic_config(settings)
    await asyncio.to_thread(command.upgrade, config, BEFORE_THIS_REVISION)  # alembic runs a loop of its own
    engine = make_engine(settings.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO handoff_tickets (id, chat_id, language, queue, state, reason, escalation_note)"
                " VALUES (1, :chat, 'en', 'officers', 'waiting', 'asked', :note)"
            ),
            {"chat": CHAT, "note": f"phone {PHONE}"},
        )
        await connection.execute(
            sa.text("INSERT INTO handoff_messages (ticket_id, author, kind, text) VALUES (1, 'user', 'text', :t)"),
            [{"t": f"passport {PASSPORT}"}, {"t": f"FIN {FIN}"}],
        )
    await engine.dispose()


async def test_the_migration_seals_what_an_older_version_stored(db_settings: Settings):
    config = alembic_config(db_settings)
    await older_ticket(db_settings)

    engine = make_engine(db_settings.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO case_subscriptions (chat_id, language, access_token, last_status, active)"
                " VALUES (:chat, 'en', :token, 'submitted', true)"
            ),
            {"chat": CHAT, "token": ACCESS_TOKEN},
        )
        await connection.execute(
            sa.text("INSERT INTO chat_preferences (chat_id, language, explicit) VALUES (:chat, 'ru', true)"),
            {"chat": CHAT},
        )
    await engine.dispose()

    await assert_readable(db_settings, 1)  # open_database migrates to head
    database = await open_database(db_settings)
    try:
        preferences = LanguagePreferences(database.sessions, "az", sealer(db_settings))
        assert await preferences.resolve(CHAT, None, "en") == "ru", "the preference was carried over"
    finally:
        await database.close()
    if db_settings.sqlalchemy_url.startswith("sqlite"):
        assert_nothing_in_clear(db_settings.data_dir, PASSPORT, FIN, PHONE, ACCESS_TOKEN)

    # Down again: the values decrypted back (the preferences' chat ids cannot be: they are hashes).
    await asyncio.to_thread(command.downgrade, config, BEFORE_THIS_REVISION)
    engine = make_engine(db_settings.sqlalchemy_url)
    async with engine.connect() as connection:
        texts = (await connection.execute(sa.text("SELECT text FROM handoff_messages ORDER BY id"))).scalars().all()
        token = (await connection.execute(sa.text("SELECT access_token FROM case_subscriptions"))).scalar_one()
        chat = (await connection.execute(sa.text("SELECT chat_id FROM handoff_tickets"))).scalar_one()
    await engine.dispose()
    assert texts[:2] == [f"passport {PASSPORT}", f"FIN {FIN}"] and token == ACCESS_TOKEN and chat == CHAT


@pytest.mark.parametrize("db_settings", ["postgresql"], indirect=True)
async def test_the_migration_will_not_seal_a_shared_database_with_a_key_made_on_the_spot(db_settings, tmp_path):
    """An operator's command (`python -m console create-user`) from a host without the keys, first to open the
    shared database after the upgrade: it must not encrypt everything with a key only it would have."""
    await older_ticket(db_settings)
    operator = Settings(_env_file=None, data_dir=tmp_path / "operator", database_url=db_settings.database_url)
    with pytest.raises(MissingKeyError, match="ASSISTANT_DATA_KEY must be set"):
        await open_database(operator)
    engine = make_engine(db_settings.sqlalchemy_url)
    async with engine.connect() as connection:
        text = (await connection.execute(sa.text("SELECT text FROM handoff_messages ORDER BY id"))).first()
        version = (await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
    await engine.dispose()
    assert (text, version) == ((f"passport {PASSPORT}",), BEFORE_THIS_REVISION), "nothing converted"
    assert not list((tmp_path / "operator").glob("*_key")), "no key made"
    await assert_readable_ticket(db_settings)


async def assert_readable_ticket(settings: Settings) -> None:
    database = await open_database(settings)  # the services' keys: the conversion goes through
    try:
        ticket = await Handoff(database.sessions, sealer(settings)).get(1)
        assert ticket is not None and ticket.chat_id == CHAT and ticket.messages[0].text == f"passport {PASSPORT}"
    finally:
        await database.close()


# ------------------------------------------------------------------ file modes


def test_commands_run_without_the_launcher_leave_only_private_files(tmp_path):
    """A fresh machine, a usual umask (022), and commands run on their own (`python -m console create-user`
    before the first `run`, then the key rotation): every file 0600, every folder 0700."""
    data = tmp_path / "var"
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_DATABASE_URL": "",
        "ASSISTANT_NEW_PASSWORD": "a long enough password 1",
    }
    env.pop("ASSISTANT_DATA_KEY", None)
    for argv in (["console", "create-user", "ana", "--role", "admin"], ["assistant", "rotate-data-key"]):
        subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
            preexec_fn=lambda: os.umask(0o022),
        )
    made = {p.relative_to(data).as_posix() for p in data.rglob("*")}
    assert {"assistant.db", "secret_key", "data_key"} <= made, made
    assert_private(data)


async def test_a_container_will_not_make_keys_of_its_own(tmp_path, capsys):
    """`python -m assistant serve` in a container: keys made under its own data folder would differ from the
    other containers', and the gateway could not read the subscriptions the action server stored."""
    from assistant.__main__ import cmd_serve
    from assistant.launcher import loopback_settings

    hops = {name: sa_secret("hop") for name in ("actions_hop_secret", "engine_hop_secret", "engine_api_token")}
    assert await cmd_serve(loopback_settings(tmp_path, **hops), "actions") == 2  # and does not start
    assert "ASSISTANT_SECRET_KEY, ASSISTANT_DATA_KEY must be set" in capsys.readouterr().out
    assert not key_file(loopback_settings(tmp_path)).exists()
