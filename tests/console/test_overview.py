"""The Overview over HTTP: the figures of known counts, ratings, unanswered questions, tickets, publishes and
model swaps, per language and period, as the page and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import update

from analytics.counting import UsageCounter, baku_today
from console.web import STATE
from core.coordination import MemoryCoordination
from handoff.models import Ticket
from knowledge.models import Rating, Revision, Unanswered
from tests.support.console import client_for
from tests.support.console import console_server as console_server  # the fixture: a console with staff accounts
from training.tables import Rollout

VISA, REGISTRATION = "visa_evisa_asan", "registration_who_when_how"


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert found, name
    return found.group(1)


def row(page: str, attribute: str, key: str) -> list[str]:
    """The cells of the table row marked `attribute="key"`, as text."""
    found = re.search(rf'<tr {attribute}="{key}">(.*?)</tr>', page, re.S)
    assert found, key
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


async def seed(console, today: dt.date) -> None:
    """Two days of this week in two languages, and a week before with fewer visa questions."""
    days = iter([today, today - dt.timedelta(days=1), today - dt.timedelta(days=9)])
    day = [today]
    counter = UsageCounter(console.kb._sessions, MemoryCoordination(), str, 60, lambda: day[0])
    for when in days:
        day[0] = when
        if when == today - dt.timedelta(days=9):
            counter.count(1, "ru", "answered", "text", VISA)
            await counter.flush()
            continue
        counter.count(1, "ru", "answered", "text", VISA)
        counter.count(2, "ru", "answered", "button", VISA)
        counter.count(2, "ru", "not_understood", "text")
        counter.count(3, "en", "answered", "text", REGISTRATION)
        counter.count(3, "en", "handed_over", "text")
        await counter.flush()
    await counter.flush()
    now = dt.datetime.now(dt.UTC)
    async with console.kb._sessions() as session, session.begin():
        session.add_all(
            [
                Rating(key=VISA, language="ru", value=1, chat_hash="a", message_id=1, created_at=now),
                Rating(key=VISA, language="ru", value=-1, chat_hash="b", message_id=2, created_at=now),
                Rating(key=REGISTRATION, language="en", value=-1, chat_hash="c", message_id=3, created_at=now),
                Rating(key=REGISTRATION, language="en", value=-1, chat_hash="d", message_id=4, created_at=now),
                Unanswered(text="zorbel", language="en", reason="not_understood", created_at=now),
                Unanswered(text="flimmer", language="ru", reason="out_of_scope", created_at=now),
                Revision(key=VISA, action="publish", snapshot={}, actor="rita", created_at=now),
                Rollout(to_model="model-new.tar.gz", from_model="model-old.tar.gz", status="done", finished_at=now),
            ]
        )
    tickets = console.tickets
    answered, _ = await tickets.open_ticket(601, "en", "asked", [("user", "help")])
    await tickets.add_message(answered.id, "staff:rita", "Hello")
    await tickets.resolve(answered.id, "rita")
    await tickets.open_ticket(602, "ru", "not_understood", [("user", "помогите")])
    async with console.kb._sessions() as session, session.begin():
        await session.execute(
            update(Ticket)
            .where(Ticket.id == answered.id)
            .values(
                created_at=now - dt.timedelta(hours=2),
                first_response_at=now - dt.timedelta(hours=1, minutes=55),
                resolved_at=now,
            )
        )


async def test_the_overview_shows_the_period_per_language_and_exports_it(console_server):
    server, _ = console_server
    console = server.app[STATE].console
    today = baku_today()
    await seed(console, today)

    async with client_for(server, "erin") as client:
        page = await (await client.get("/")).text()  # the first page after login
        assert "<h1>Overview</h1>" in page
        assert figure(page, "messages") == "10" and figure(page, "conversations") == "6"  # 3 chats × 2 days
        assert figure(page, "answered-share") == "60%"  # 6 of 10
        assert figure(page, "unanswered") == "2" and figure(page, "tickets") == "2"
        assert figure(page, "first-response") == "5 min" and figure(page, "resolution") == "2 h 00 min"
        assert figure(page, "responded") == "(1 of 2 answered)" and figure(page, "resolved") == "(1 of 2 resolved)"
        assert row(page, "data-outcome", "answered")[1:] == ["6", "60.0%"]
        assert row(page, "data-outcome", "handed_over")[1:] == ["2", "20.0%"]
        assert 'data-outcome="status_found"' not in page  # none: no row
        assert "2 button presses" in page and "8 typed" in page
        # the visa entry: 4 answers this week; on whole days 2 (yesterday), 1 in the 6 days before them (+100%);
        # one 👍 and one 👎
        assert row(page, "data-entry", VISA)[2:] == ["4", "+100%", "1", "1"]
        assert row(page, "data-entry", REGISTRATION)[2:] == ["2", "new", "0", "2"]
        rated_down = page.split('<table class="rated-down">')[1]
        assert rated_down.index(REGISTRATION) < rated_down.index(VISA)  # two 👎 before one
        assert f"published {VISA}" in page and "model model-new.tar.gz" in page  # the markers' tooltips
        assert page.count('<svg class="chart"') == 4

        russian = await (await client.get("/?days=30&language=ru")).text()
        assert figure(russian, "messages") == "7" and figure(russian, "conversations") == "5"
        assert figure(russian, "unanswered") == "1" and figure(russian, "tickets") == "1"
        assert row(russian, "data-entry", VISA)[2:] == ["5", "new", "1", "1"]  # 30 days hold the earlier one too
        assert f'data-entry="{REGISTRATION}"' not in russian.split('<table class="rated-down">')[0]

        odd = await (await client.get("/?days=13&language=xx")).text()  # not offered: the defaults
        assert figure(odd, "messages") == "10"

        response = await client.get("/overview.csv?language=en")
        assert response.headers["Content-Type"].startswith("text/csv")
        assert response.headers["Content-Disposition"].endswith(f'-{today}-en.csv"')
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    figures = {(r["figure"], r["day"], r["key"]): r["value"] for r in rows}
    assert figures[("messages", str(today), "")] == "2"
    assert figures[("outcome", str(today), "handed_over")] == "1"
    assert figures[("entry_rated_down", "", REGISTRATION)] == "2"
    assert figures[("tickets_opened", str(today), "")] == "1"
    assert {r["language"] for r in rows} == {"en"}
    assert sum(int(r["value"]) for r in rows if r["figure"] == "messages") == 4


async def test_an_empty_database_shows_an_empty_overview(console_server):
    server, _ = console_server
    async with client_for(server, "rita") as client:
        page = await (await client.get("/?days=90")).text()
    assert figure(page, "messages") == "0" and figure(page, "answered-share") == "—"
    assert "No messages in this period." in page and "No answers in this period." in page
    assert figure(page, "first-response") == "—"
