import asyncio
import datetime as dt

from actions.vault import Vault, is_ref
from cases.lockout import MAX_FAILURES, Admitted, Lockout, Paused
from core.bootstrap import open_database

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


async def test_five_failures_in_an_hour_pause_until_the_oldest_expires(db_settings):
    database = await open_database(db_settings)
    try:
        lockout = Lockout(database.sessions, b"secret")
        for minute in range(MAX_FAILURES - 1):  # admitted lookups count as failures unless withdrawn
            assert isinstance(await lockout.admit("chat-1", f"TRP-2026-00010{minute}", at(minute)), Admitted)
        assert await lockout.paused("chat-1", "TRP-2026-000109", at(5)) is None
        await lockout.admit("chat-1", "TRP-2026-000108", at(10))
        pause = Paused("user", NOW + dt.timedelta(hours=1))
        assert await lockout.paused("chat-1", "TRP-2026-000109", at(11)) == pause
        assert await lockout.admit("chat-1", "TRP-2026-000109", at(11)) == pause  # refused, and not counted
        assert await lockout.paused("chat-1", "TRP-2026-000109", at(61)) is None
        assert await lockout.paused("chat-2", "TRP-2026-000109", at(11)) is None  # per user
        # Only keyed hashes are stored, never the chat id or the number.
        assert lockout.user_hash("chat-1") != "chat-1" and len(lockout.user_hash("chat-1")) == 64
        assert len(lockout.application_hash("TRP-2026-000101")) == 64
        assert lockout.application_hash("TRP-2026-000101") != lockout.user_hash("TRP-2026-000101")
    finally:
        await database.close()


async def test_an_application_pauses_for_everyone_and_staff_can_lift_it(db_settings):
    database = await open_database(db_settings)
    try:
        lockout = Lockout(database.sessions, b"secret")
        for minute in range(MAX_FAILURES):
            await lockout.admit(f"chat-{minute}", "TRP-2026-000101", at(minute))
        assert await lockout.paused("chat-9", "TRP-2026-000101", at(10)) == Paused(
            "application", NOW + dt.timedelta(hours=1)
        )
        assert await lockout.paused("chat-9", "TRP-2026-000102", at(10)) is None
        (listed,) = await lockout.paused_applications(at(10))
        assert listed.application_hash == lockout.application_hash("TRP-2026-000101")
        assert (listed.failures, listed.until, listed.last_failure) == (
            MAX_FAILURES,
            NOW + dt.timedelta(hours=1),
            at(MAX_FAILURES - 1),
        )
        assert await lockout.paused_users(at(10)) == 0
        # A withdrawn lookup (found, or not answered) is no failure.
        withdrawn = await lockout.admit("chat-9", "TRP-2026-000102", at(10))
        assert isinstance(withdrawn, Admitted)
        await lockout.withdraw(withdrawn)
        assert await lockout.paused_applications(at(10)) == [listed]

        assert await lockout.lift(listed.application_hash) == MAX_FAILURES
        assert await lockout.paused("chat-9", "TRP-2026-000101", at(11)) is None
        assert await lockout.paused_applications(at(11)) == []
        assert await lockout.lift(listed.application_hash) == 0
    finally:
        await database.close()


def at(minute: int) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minute)


async def test_vault_keeps_values_per_conversation_and_forgets(coordination):
    vault = Vault(coordination, ttl_s=60)
    ref = await vault.put("chat-1", "TRP-2026-000101")
    other = await vault.put("chat-1", "dob:1990-03-12")
    kept = await vault.put("chat-2", "TRP-2026-000102")
    assert is_ref(ref) and "TRP" not in ref
    assert await vault.get("chat-1", ref) == "TRP-2026-000101"
    assert await vault.get("chat-2", ref) is None  # another conversation cannot read it
    assert await vault.get("chat-1", "TRP-2026-000101") is None  # only references are read
    await vault.forget("chat-1")
    assert await vault.get("chat-1", ref) is None and await vault.get("chat-1", other) is None
    assert await vault.get("chat-2", kept) == "TRP-2026-000102"


async def test_vault_values_expire(coordination):
    vault = Vault(coordination, ttl_s=0.05)
    ref = await vault.put("chat-1", "1990-03-12")
    await asyncio.sleep(0.12)
    assert await vault.get("chat-1", ref) is None
