"""The Overview in headless Chromium after a replayed day (benchmarks/replay_day.py): what the users saw is
what the page counts, and a screenshot of it is kept (var/screenshots/overview.png)."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import text

from benchmarks.replay_day import replay
from core.bootstrap import open_database
from knowledge.models import Revision
from knowledge.store import KnowledgeBase
from tests.support.browser import SHOTS, logged_in
from tests.support.browser import browser as browser  # the fixture: headless Chromium
from tests.support.log_scan import personal

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def cells(page: Page, selector: str) -> list[str]:
    row = page.locator(selector)
    return [text.strip() for text in await row.locator("td").all_inner_texts()] if await row.count() else []


async def figures(page: Page, entries: set[str]) -> dict[str, int]:
    """The numbers the page shows: the period's figures, the outcome rows, each entry's answers and ratings."""
    shown: dict[str, int] = {}
    for name in ("messages", "conversations"):
        shown[name] = int(await page.locator(f'[data-figure="{name}"]').inner_text())
    for outcome in ("answered", "status_found"):
        row = await cells(page, f'table.outcomes tr[data-outcome="{outcome}"]')
        shown[outcome] = int(row[1]) if row else 0
    for entry in entries:
        row = await cells(page, f'table.top tr[data-entry="{entry}"]')
        asked, up, down = (int(row[2]), int(row[4]), int(row[5])) if row else (0, 0, 0)
        shown |= {f"asked {entry}": asked, f"up {entry}": up, f"down {entry}": down}
    return shown


async def published_now(settings, key: str) -> None:
    """A publish of `key` in its history as it is live (what the console writes), for the charts' marker."""
    database = await open_database(settings)
    try:
        live = await KnowledgeBase(database.sessions).get(key)
        assert live is not None
        async with database.sessions() as session, session.begin():
            session.add(Revision(key=key, action="publish", snapshot=live.model_dump(mode="json"), actor="rita"))
    finally:
        await database.close()


async def test_the_overview_counts_a_replayed_day_as_its_users_saw_it(running, browser):
    await published_now(running.settings, "visa_evisa_asan")
    await asyncio.sleep(running.settings.usage_flush_s + 1)  # the earlier tests' counts are in by now
    page = await logged_in(browser, running.console_url, "rita", "/")
    await expect(page.locator("h1")).to_have_text("Overview")
    before_page = await page.content()

    seen = await replay(running.driver, users=9, messages=3, first_user=6_100_000, think_s=(0.2, 0.6), concurrency=9)
    assert seen.messages >= 27 and seen.unanswered == 0, seen.summary()
    assert sum(seen.answered.values()) > 0, seen.summary()

    entries = set(seen.answered)
    await page.set_content(before_page)  # the numbers before, read from the page as it was
    before = await figures(page, entries)
    after: dict[str, int] = {}
    for _ in range(60):  # the gateway adds its counts every few seconds
        await page.goto(f"{running.console_url}/")
        after = await figures(page, entries)
        # the messages' counts, then the conversations' (two writes)
        if after["messages"] - before["messages"] >= seen.messages and (
            after["conversations"] - before["conversations"] >= seen.users
        ):
            break
        await asyncio.sleep(0.5)
    delta = {name: after[name] - before.get(name, 0) for name in after}
    assert delta["messages"] == seen.messages, (delta, seen.summary())
    assert delta["conversations"] == seen.users
    assert delta["answered"] == sum(seen.answered.values())
    assert delta["status_found"] == seen.status_found
    shown = [entry for entry in entries if after[f"asked {entry}"]]  # the 20 most asked are listed
    assert shown
    for entry in shown:
        assert delta[f"asked {entry}"] == seen.answered[entry], entry
        assert (delta[f"up {entry}"], delta[f"down {entry}"]) == (seen.rated_up[entry], seen.rated_down[entry])

    # The charts are there, with a point per day, and a marker's words where a publish happened.
    await expect(page.locator("svg.chart")).to_have_count(4)
    await expect(page.locator("svg.chart").first.locator("circle.point")).to_have_count(14)  # 7 days × 2 lines
    published = page.locator("svg.chart").first.locator("g.marker.publish title")
    await expect(published).to_contain_text("published visa_evisa_asan")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    print(f"screenshot: {SHOTS / 'overview.png'} ({seen.summary()})")

    # One language, thirty days, and the CSV of the same.
    await page.get_by_role("link", name="Russian", exact=True).click()
    await page.get_by_role("link", name="30 days", exact=True).click()
    await expect(page).to_have_url(f"{running.console_url}/?days=30&language=ru")
    russian = int(await page.locator('[data-figure="messages"]').inner_text())
    assert seen.by_language["ru"] <= russian <= after["messages"]
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download as CSV").click()
    text = (await (await download.value).path()).read_text(encoding="utf-8")
    assert text.startswith("figure,day,language,key,value\n") and ",ru," in text


async def test_the_counts_tables_hold_nothing_personal(running):
    """After the replayed day (status lookups with the demo applicant's number and birth date included), the
    counters' rows as text: no application number, FIN, date of birth or chat id, as the log scan looks."""
    await replay(running.driver, users=6, messages=1, first_user=6_200_000, think_s=(0.1, 0.3), concurrency=6)
    await asyncio.sleep(running.settings.usage_flush_s + 1)
    database = await open_database(running.settings)
    try:
        async with database.sessions() as session:
            rows = [
                " | ".join(map(str, row))
                for table in ("usage_counts", "usage_conversations")
                for row in (await session.execute(text(f"SELECT * FROM {table}"))).all()
            ]
    finally:
        await database.close()
    assert rows
    assert personal(rows) == [], [rows[i] for i in personal(rows)]
    assert not [row for row in rows if re.search(r"\b6[12]\d{5}\b", row)], "a chat id in the counts"
