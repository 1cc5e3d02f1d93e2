import asyncio
import datetime as dt

from actions.lockout import MAX_FAILURES, Lockout
from actions.vault import Vault, is_ref
from assistant.bootstrap import open_database

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


async def test_five_failures_in_an_hour_lock_until_the_oldest_expires(db_settings):
    database = await open_database(db_settings, seed=False)
    try:
        lockout = Lockout(database.sessions, b"secret")
        for minute in range(MAX_FAILURES - 1):
            await lockout.record_failure("chat-1", NOW + dt.timedelta(minutes=minute))
        assert await lockout.locked_until("chat-1", NOW + dt.timedelta(minutes=5)) is None
        await lockout.record_failure("chat-1", NOW + dt.timedelta(minutes=10))
        until = await lockout.locked_until("chat-1", NOW + dt.timedelta(minutes=11))
        assert until == NOW + dt.timedelta(hours=1)
        assert await lockout.locked_until("chat-1", NOW + dt.timedelta(minutes=61)) is None
        assert await lockout.locked_until("chat-2", NOW + dt.timedelta(minutes=11)) is None  # per user
        # Only keyed hashes are stored, never the chat id.
        assert lockout.user_hash("chat-1") != "chat-1" and len(lockout.user_hash("chat-1")) == 64
    finally:
        await database.close()


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
