"""Rotating the data key: every encrypted value re-encrypted with the current key, then checked against it alone.

`python -m assistant rotate-data-key` runs it. With the key file under the data folder (no key in the settings)
the command does the whole rotation: a new key first in the file (the old one kept beside it meanwhile; running
services follow the file, core/data_key.py, and encrypt with the new key from then on), a moment for what
they encrypted just before to be committed, every value re-encrypted in one transaction and checked with the
new key alone, and only then the old key dropped. With `ASSISTANT_DATA_KEY` set by operators, they set the new
key and move the old one to `ASSISTANT_DATA_KEYS_PREVIOUS`; the command re-encrypts, and they drop the previous
keys afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.bootstrap import open_database
from core.data_key import (
    DataKeyError,
    Sealer,
    data_keys,
    key_file,
    new_data_key,
    operator_keys,
    write_key_file,
)
from core.secret_key import MissingKeyError, secret_key
from core.settings import Settings

# Every column that holds a value encrypted with the data key, by table (each with an integer `id`).
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "handoff_tickets": ("chat_sealed", "escalation_note"),
    "handoff_messages": ("text",),
    "case_subscriptions": ("chat_sealed", "access_token"),
}


def reseal_all(connection: Connection, sealer: Sealer) -> dict[str, int]:
    """Re-encrypts every sealed value with the sealer's current key; values re-encrypted, by table."""
    counts = {}
    for name, columns in SEALED_COLUMNS.items():
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in columns))
        params = []
        for row in connection.execute(sa.select(table)):
            values = {
                f"_{c}": sealer.reseal(v) if v is not None else None for c, v in zip(columns, row[1:], strict=True)
            }
            params.append({"_id": row.id, **values})
        if params:
            update = table.update().where(table.c.id == sa.bindparam("_id"))
            connection.execute(update.values({c: sa.bindparam(f"_{c}") for c in columns}), params)
        counts[name] = sum(v is not None for p in params for k, v in p.items() if k != "_id")
    return counts


def check_all(connection: Connection, sealer: Sealer) -> int:
    """How many sealed values the sealer decrypts; DataKeyError at the first it cannot."""
    checked = 0
    for name, columns in SEALED_COLUMNS.items():
        table = sa.table(name, *(sa.column(c) for c in columns))
        for row in connection.execute(sa.select(table)):
            for value in row:
                if value is not None:
                    sealer.open(value)
                    checked += 1
    return checked


async def rotate(settings: Settings, say: Callable[[str], None], grace_s: float = 2.0) -> int:
    """The CLI command; tells what it did in `say` (counts, never data). 0 when done, 1 when it could not."""
    keys = operator_keys(settings)
    try:
        secret, current = secret_key(settings), keys if keys is not None else data_keys(settings)
    except MissingKeyError as error:
        say(f"Nothing re-encrypted: {error}.")
        return 1
    if keys is not None and len(keys) == 1:
        say(OPERATOR_HOW_TO)
        return 0
    managed, path = keys is None, key_file(settings)
    database = await open_database(settings)  # migrates first: any old rows get sealed
    try:
        if keys is None:
            keys = [new_data_key(), *current]
            write_key_file(path, keys)  # both until the data is re-encrypted: a crash loses nothing
            await asyncio.sleep(grace_s)  # what services encrypted with the old key just before is committed
        async with database.engine.begin() as connection:
            counts = await connection.run_sync(reseal_all, Sealer(keys, secret))
            checked = await connection.run_sync(check_all, Sealer(keys[:1], secret))
    except DataKeyError as error:
        say(f"Nothing re-encrypted: {error}. Every key in use must be among the keys (current and previous).")
        return 1
    finally:
        await database.close()
    for table, count in counts.items():
        say(f"  {table}: {count} values re-encrypted")
    say(f"All {checked} encrypted values now decrypt with the current key alone.")
    if managed:
        write_key_file(path, keys[:1])
        say(f"New data key in {path}; the previous key is deleted (running services follow the file).")
    else:
        say("Remove ASSISTANT_DATA_KEYS_PREVIOUS from the settings now, and restart the services.")
    return 0


OPERATOR_HOW_TO = """\
The data key is set in the settings (ASSISTANT_DATA_KEY), so rotating is done there:
  1. make a new key: openssl rand -base64 32
  2. set it as ASSISTANT_DATA_KEY and move the old one to ASSISTANT_DATA_KEYS_PREVIOUS (comma-separated),
     then restart the services: they decrypt with either key and encrypt with the new one;
  3. run this command again: it re-encrypts everything with the new key;
  4. remove ASSISTANT_DATA_KEYS_PREVIOUS and restart the services."""
