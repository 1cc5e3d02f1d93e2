"""The console's lists as staff use them: the entry list in any language with its ratings, pages of entries,
tickets and unanswered questions, the best match preselected, and an entry's first change shown as a change."""

from __future__ import annotations

import re

from benchmarks.publishing import csrf_of, form_of
from console.web import STATE
from knowledge.models import Rating
from tests.support.console import client_for
from tests.support.console import console_server as console_server  # the fixture: a console with staff accounts

KEY = "registration_who_when_how"


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr data-entry="([^"]+)">', page)


def cells(page: str, key: str) -> list[str]:
    found = re.search(rf'<tr data-entry="{key}">(.*?)</tr>', page, re.S)
    assert found, key
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


async def test_the_entry_list_speaks_each_language_with_its_own_ratings_a_page_at_a_time(console_server):
    server, _ = console_server
    console = server.app[STATE].console
    async with console.kb._sessions() as session, session.begin():
        session.add_all(
            [
                Rating(key=KEY, language="ru", value=-1, chat_hash="a", message_id=1),
                Rating(key=KEY, language="ru", value=-1, chat_hash="b", message_id=2),
                Rating(key=KEY, language="en", value=1, chat_hash="c", message_id=3),
            ]
        )
    russian_question = (await console.kb.get(KEY)).texts["ru"].question
    async with client_for(server, "erin") as client:
        english = await (await client.get("/entries")).text()
        assert "Rated up (en)" in english and "👍" not in english and "👎" not in english  # text, not emoji
        assert len(rows_of(english)) == 50 and "1–50 of 94" in english and 'rel="next"' in english
        second = await (await client.get("/entries?page=2")).text()
        assert len(rows_of(second)) == 44 and 'rel="prev"' in second and 'rel="next"' not in second
        assert not set(rows_of(english)) & set(rows_of(second))
        past_the_end = await (await client.get("/entries?page=9")).text()
        assert rows_of(past_the_end) == rows_of(second)

        russian = await (await client.get(f"/entries?language=ru&q={KEY}")).text()
        assert cells(russian, KEY)[2:] == [russian_question, "v1", "", "0", "2"]
        assert "Rated down (ru)" in russian
        english = await (await client.get(f"/entries?q={KEY}")).text()
        assert cells(english, KEY)[-2:] == ["1", "0"]
        entry = await (await client.get(f"/entries/{KEY}")).text()
        assert "rated up 1, down 2 (az 0/0, ru 0/2, en 1/0)" in entry


async def test_the_unanswered_page_preselects_the_best_match_and_otherwise_nothing(console_server):
    server, _ = console_server
    log = server.app[STATE].console.unanswered
    # Alphabetically first is "citizenship…": the best match (first for both questions) is the visa entry.
    for text in ("how do I get an e-visa quickly", "how do I get an e-visa quick"):
        await log.record(text, "en", "low_confidence", 0.3, ["visa_evisa_asan", "citizenship_naturalisation"])
    await log.record("zorbel quantavik flimmerstad", "en", "not_understood", 0.1, [])
    async with client_for(server, "erin") as client:
        page = await (await client.get("/unanswered")).text()
    visa, nothing = page.split('<article class="group">')[1:3]
    assert re.search(r'<option value="visa_evisa_asan" selected>', visa)
    assert visa.count(" selected") == 1
    assert "Closest entries, best first: visa_evisa_asan, citizenship_naturalisation" in visa
    assert '<option value="" selected disabled>Choose an entry…</option>' in nothing
    assert nothing.count(" selected") == 1


async def test_the_first_change_of_a_seed_entry_shows_only_what_changed(console_server):
    server, _ = console_server
    async with client_for(server, "erin") as editor:
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = form_of(page)
        form["en_answer"] += "\nOne more line."
        form.update(action="save", comment="one line", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        history = await (await editor.get(f"/entries/{KEY}/history")).text()
    first_change = history.split('<article class="revision">')[1]
    diff = re.search(r'<pre class="diff">(.*?)</pre>', first_change, re.S)
    assert diff, first_change
    added = [line for line in diff.group(1).splitlines() if line.startswith("+") and not line.startswith("+++")]
    # the line added, and the day of review (the form proposes today's): nothing else, no language re-added
    assert [line.strip() for line in added if "reviewed_on" not in line] == ["+        One more line.".strip()]
    assert len(added) <= 2
    assert "seed by system" in history.split('<article class="revision">')[2]


async def test_tickets_come_a_page_at_a_time_the_newest_first(console_server):
    server, _ = console_server
    tickets = server.app[STATE].console.tickets
    opened = [(await tickets.open_ticket(900 + n, "en", "asked", [("user", f"help {n}")]))[0].id for n in range(55)]
    async with client_for(server, "rita") as client:
        first = await (await client.get("/tickets")).text()
        second = await (await client.get("/tickets?page=2")).text()
        waiting_second = await (await client.get("/tickets?state=waiting&page=2")).text()
    shown = [int(n) for n in re.findall(r'<a href="/tickets/(\d+)">', first)]
    assert shown == sorted(opened, reverse=True)[:50]
    assert [int(n) for n in re.findall(r'<a href="/tickets/(\d+)">', second)] == sorted(opened, reverse=True)[50:]
    assert "1–50 of 55" in first and 'href="?state=waiting&amp;page=1"' in waiting_second
