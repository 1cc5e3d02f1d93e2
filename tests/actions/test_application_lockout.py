"""Guessing an applicant's date of birth from many chats: the application is paused for everyone after five
failures, on top of each user's own pause. Driven through the real status form and status action (rasa-sdk
trackers and dispatchers), against the case API sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from pydantic import SecretStr
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from sqlalchemy import select

import actions.resources
from actions.resources import Resources
from actions.status import ActionCheckStatus, ValidateStatusForm
from case_api.sandbox import BEHAVIOUR, Behaviour, make_app
from cases.lockout import MAX_FAILURES, Admitted, Lockout, Paused
from cases.models import LookupFailure
from core.bootstrap import open_database
from core.secret_key import secret_key
from core.settings import Settings
from tests.conftest import free_port

TOKEN = "test-case-api-token"
NUMBER, BORN = "TRP-2026-000101", "12.03.1990"  # a sandbox applicant
OTHER_NUMBER, OTHER_BORN = "TRP-2026-000102", "02.11.1985"
WRONG_DATES = ["01.01.1970", "02.02.1971", "03.03.1972", "04.04.1973", "05.05.1974", "06.06.1975"]


@dataclass
class Sandbox:
    url: str
    behaviour: Behaviour

    def lookups(self) -> int:
        """How many lookups reached the case API."""
        return self.behaviour.by_path.get("/v1/applications/lookup", 0)


@pytest.fixture
async def sandbox(tmp_path) -> AsyncIterator[Sandbox]:
    app = make_app(tmp_path / "sandbox.db", TOKEN)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Sandbox(f"http://127.0.0.1:{port}", app[BEHAVIOUR])
    await runner.cleanup()


@pytest.fixture
def settings(db_settings: Settings, sandbox: Sandbox) -> Settings:
    return db_settings.model_copy(
        update={"case_api_url": sandbox.url, "case_api_token": SecretStr(TOKEN), "case_api_retries": 0}
    )


def tracker(sender: str, slots: dict[str, Any], text: str, language: str = "en") -> Tracker:
    message = {"text": text, "intent": {"name": "inform"}, "entities": [], "metadata": {"language": language}}
    return Tracker(sender, slots, message, [], False, None, {"name": "status_form"}, "action_listen")


class ActionServer:
    """One action-server process as the engine drives it. rasa-sdk builds actions without arguments and they
    ask actions.resources for what they share, so each server's resources (its own database connection,
    vault and case API client) are installed before each of its turns."""

    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        self.settings, self.monkeypatch = settings, monkeypatch
        self.shared: Resources | None = None

    async def __aenter__(self) -> ActionServer:
        self.monkeypatch.setattr(actions.resources, "_settings", self.settings)
        self.monkeypatch.setattr(actions.resources, "_resources", None)
        self.shared = await actions.resources.resources()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.shared is not None
        await self.shared.cases.close()
        await self.shared.database.close()

    async def check(self, sender: str, number: str, born: str, language: str = "en") -> tuple[list[dict], bool]:
        """The form's turns (the number; the date of birth unless the form ends at the number), then the status
        action the form's end triggers. What the user is told, and whether the date of birth was asked for."""
        self.monkeypatch.setattr(actions.resources, "_resources", self.shared)
        dispatcher, form = CollectingDispatcher(), ValidateStatusForm()
        slots = await form.validate_application_number(number, dispatcher, tracker(sender, {}, number), {})
        asked_for_date = slots.get(REQUESTED_SLOT, "verification") is not None
        if asked_for_date:
            slots |= await form.validate_verification(born, dispatcher, tracker(sender, slots, born), {})
        await ActionCheckStatus().run(dispatcher, tracker(sender, slots, born, language), {})
        return [message["custom"] for message in dispatcher.messages], asked_for_date

    async def forged_status_call(self, sender: str, number: str, born: str) -> list[dict]:
        """The status action called with both slots filled, as a caller skipping the form would."""
        self.monkeypatch.setattr(actions.resources, "_resources", self.shared)
        assert self.shared is not None
        vault = self.shared.vault
        slots = {"application_number": await vault.put(sender, number), "verification": await vault.put(sender, born)}
        dispatcher = CollectingDispatcher()
        await ActionCheckStatus().run(dispatcher, tracker(sender, slots, born), {})
        return [message["custom"] for message in dispatcher.messages]


def keys(messages: list[dict]) -> list[str]:
    return [message.get("key") or message["type"] for message in messages]


def paused_lookups(scope: str) -> float:
    return REGISTRY.get_sample_value("assistant_status_lookups_paused_total", {"scope": scope}) or 0.0


async def test_six_senders_guessing_one_application_are_paused_after_five(settings, sandbox, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="actions")
    refused_before = paused_lookups("application")
    async with ActionServer(settings, monkeypatch) as server:
        for guess in range(MAX_FAILURES):
            told, _ = await server.check(f"guesser-{guess}", NUMBER, WRONG_DATES[guess])
            assert keys(told) == ["status_not_found"]
        assert sandbox.lookups() == MAX_FAILURES

        # The sixth sender has the right date of birth, and is still not told the status: the number is not
        # even looked up, and the date of birth is not asked for.
        told, asked_for_date = await server.check("owner", NUMBER, BORN, language="ru")
        assert keys(told) == ["status_application_paused"] and not asked_for_date
        until = dt.datetime.fromisoformat(told[0]["args"]["until"])
        assert dt.timedelta(minutes=59) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
        # Nor when the status action is called directly with both slots filled, skipping the form.
        assert keys(await server.forged_status_call("owner", NUMBER, "1990-03-12")) == ["status_application_paused"]
        # Any way of typing the number is the same application.
        told, _ = await server.check("owner", "trp 2026 000101", BORN)
        assert keys(told) == ["status_application_paused"]
        assert sandbox.lookups() == MAX_FAILURES  # the case API was not asked again
        assert paused_lookups("application") == refused_before + 3  # counted, for the operators' alerts

        # The pause is the application's: the same senders look up other applications as usual.
        told, _ = await server.check("owner", OTHER_NUMBER, OTHER_BORN)
        assert keys(told) == ["case_status"]
        told, _ = await server.check("guesser-0", OTHER_NUMBER, OTHER_BORN)
        assert keys(told) == ["case_status"]

        # Only keyed hashes are stored, and the number is in no log.
        assert server.shared is not None
        async with server.shared.database.sessions() as session:
            rows = (await session.scalars(select(LookupFailure))).all()
        lockout = server.shared.lockout
        assert {row.application_hash for row in rows} == {lockout.application_hash(NUMBER)}
        assert all(NUMBER not in (row.user_hash, row.application_hash) for row in rows)
    ours = [record for record in caplog.records if record.name.startswith("actions")]
    assert any("paused" in record.getMessage() for record in ours)
    logged = "\n".join(f"{record.getMessage()} {record.args}" for record in ours)
    assert NUMBER not in logged and "000101" not in logged and "1990-03-12" not in logged


async def test_the_pause_is_shared_between_servers_and_survives_a_restart(settings, sandbox, monkeypatch):
    async with ActionServer(settings, monkeypatch) as first, ActionServer(settings, monkeypatch) as second:
        for guess in range(MAX_FAILURES):
            server = first if guess % 2 else second  # a balancer spreads the guesses over the replicas
            told, _ = await server.check(f"guesser-{guess}", NUMBER, WRONG_DATES[guess])
            assert keys(told) == ["status_not_found"]
        for server in (first, second):
            told, _ = await server.check("owner", NUMBER, BORN)
            assert keys(told) == ["status_application_paused"]
    async with ActionServer(settings, monkeypatch) as restarted:
        told, _ = await restarted.check("owner", NUMBER, BORN)
        assert keys(told) == ["status_application_paused"]
    assert sandbox.lookups() == MAX_FAILURES


async def test_one_user_guessing_many_applications_is_paused_as_before(settings, sandbox, monkeypatch):
    async with ActionServer(settings, monkeypatch) as server:
        for guess in range(MAX_FAILURES):  # five applications, one failure each: none of them is paused
            told, _ = await server.check("guesser", f"TRP-2026-90000{guess}", WRONG_DATES[guess])
            assert keys(told) == ["status_not_found"]
        told, asked_for_date = await server.check("guesser", NUMBER, BORN)
        assert keys(told) == ["status_locked"] and not asked_for_date
        assert keys(await server.forged_status_call("guesser", NUMBER, "1990-03-12")) == ["status_locked"]
        told, _ = await server.check("someone-else", NUMBER, BORN)
        assert keys(told) == ["case_status"]  # the application itself is not paused
    assert sandbox.lookups() == MAX_FAILURES + 1


async def test_a_case_api_outage_counts_against_nobody(settings, sandbox, monkeypatch):
    async with ActionServer(settings, monkeypatch) as server:
        sandbox.behaviour.fail_status, sandbox.behaviour.fail_count = 503, -1
        for attempt in range(MAX_FAILURES + 1):
            told, _ = await server.check("patient", NUMBER, BORN)
            assert keys(told) == ["status_unavailable"], attempt
        sandbox.behaviour.fail_status, sandbox.behaviour.fail_count = None, 0
        server.shared.cases.breaker.success()  # type: ignore[union-attr] # the breaker opened meanwhile
        told, _ = await server.check("patient", NUMBER, BORN)
        assert keys(told) == ["case_status"]


async def test_racing_lookups_on_replicas_get_no_more_than_five_tries(db_settings):
    """Thirty lookups of one number at once, over two database connections (two replicas): five get through."""
    first, second = await open_database(db_settings), await open_database(db_settings)
    try:
        secret = secret_key(db_settings)
        replicas = [Lockout(first.sessions, secret), Lockout(second.sessions, secret)]
        results = await asyncio.gather(*(replicas[i % 2].admit(f"sender-{i}", NUMBER) for i in range(30)))
        admitted = sum(isinstance(result, Admitted) for result in results)
        assert admitted <= MAX_FAILURES  # (a burst may be refused whole: each sees the others registered)
        async with first.sessions() as session:
            assert len((await session.scalars(select(LookupFailure))).all()) == admitted  # refused ones withdrawn
        # Whoever was admitted failed (none was withdrawn): the number is paused once five did.
        late = await replicas[1].admit("late", NUMBER)
        assert isinstance(late, Paused) if admitted == MAX_FAILURES else isinstance(late, Admitted)
    finally:
        await first.close()
        await second.close()
