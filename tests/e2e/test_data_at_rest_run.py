"""After a whole `python -m assistant run` (a status lookup with its subscription, a handoff with a passport
number, a phone number and a FIN), the data folder as an attacker with a copy of it would read it: every file
0600 and every folder 0700, and our database without the personal data, the access token or the chat id."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pexpect
import pytest

from assistant.terminal_chat import USER_ID
from tests.e2e.test_first_run import START_S, STOP_S, _kill, spawn
from tests.support.data_at_rest import FIN, PASSPORT, PHONE, assert_nothing_in_clear, assert_private

pytestmark = [pytest.mark.e2e]


def test_after_a_run_the_data_folder_is_private_and_our_tables_hold_nothing_in_clear(tmp_path: Path) -> None:
    run = spawn(tmp_path / "var")
    try:
        run.read_until_prompt(timeout=START_S)
        run.turn("check my application status")
        run.turn("TRP-2026-000102")
        status = run.turn("02.11.1985")
        bell = re.search(r"\[(\d+)\] 🔔", status)
        assert bell, status
        assert "Done" in run.turn(f":{bell.group(1)}")  # subscribed: the case API's token is stored

        assert "staff topic ›" in run.turn("/person")
        relayed = run.turn(f"my passport is {PASSPORT}, phone {PHONE}, FIN {FIN}")
        assert f"staff topic › my passport is {PASSPORT}" in relayed, relayed  # staff read it as written
        run.child.sendline(":quit")
        run.child.expect_exact("Stopped.", timeout=STOP_S)
        run.child.expect(pexpect.EOF, timeout=STOP_S)
    finally:
        _kill(run)

    data = run.settings.data_dir
    made = {p.relative_to(data).as_posix() for p in data.rglob("*")}
    assert {"assistant.db", "engine_tracker.db", "secret_key", "data_key", "logs/gateway.log"} <= made, made
    assert_private(data)
    assert_nothing_in_clear(data, PASSPORT, PHONE, FIN, chat_ids=(USER_ID,))
    with sqlite3.connect(data / "assistant.db") as connection:
        tokens = [token for (token,) in connection.execute("SELECT access_token FROM case_subscriptions")]
    assert tokens and all(token.startswith("gAAAAA") for token in tokens), "the access token is not encrypted"
