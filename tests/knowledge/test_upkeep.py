"""Keeping answers right over time: time-bound facts to re-check, translations kept in step, the seed's new
entries reaching an existing knowledge base; in the services and in the console's pages."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from benchmarks.publishing import csrf_of, form_of
from console.web import STATE
from knowledge.curation import Actor, Curation, CurationError, Role
from knowledge.models import SentAnswer
from knowledge.schema import DatedFact, EntryData
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from knowledge.upkeep import Upkeep
from tests.support.console import client_for
from tests.support.console import console as console  # the fixture: a console with an editor and a reviewer

EDITOR, REVIEWER = Actor("erin", Role.editor), Actor("rita", Role.reviewer)
KEY = "registration_who_when_how"
TODAY = dt.date(2026, 12, 6)


@pytest.fixture
async def database(db_settings):
    database = await open_seeded(db_settings)
    yield database
    await database.close()


async def publish_change(curation: Curation, kb: KnowledgeBase, key: str, **answers: str) -> EntryData:
    """An editor changes `key`'s answers in the given languages (appending text), a reviewer publishes."""
    data = await kb.get(key)
    assert data is not None
    for lang, extra in answers.items():
        data.texts[lang].answer += "\n" + extra
    await curation.save_draft(EDITOR, data)
    await curation.submit(EDITOR, key)
    await curation.publish(REVIEWER, key)
    return data


async def test_a_published_change_in_one_language_marks_the_others_until_updated_or_confirmed(database):
    curation, kb, upkeep = Curation(database.sessions), KnowledgeBase(database.sessions), Upkeep(database.sessions)
    before = await kb.answer(KEY, "ru")
    assert before is not None and await upkeep.out_of_step() == []

    await publish_change(curation, kb, KEY, en="Since 2027 also by post.")
    rows = await upkeep.out_of_step()
    assert [(r.key, r.language, r.changed) for r in rows] == [(KEY, "az", ("en",)), (KEY, "ru", ("en",))]
    assert await upkeep.marks(KEY) == {"az": "en", "ru": "en"}
    after = await kb.answer(KEY, "ru")
    assert after is not None and after.text == before.text  # Russian users keep the last published text

    # The Russian catch-up clears Russian only, and does not mark English as behind Russian.
    await publish_change(curation, kb, KEY, ru="С 2027 года также по почте.")
    assert await upkeep.marks(KEY) == {"az": "en"}

    # Editors cannot confirm; a reviewer confirms the Azerbaijani text, recorded in the history.
    with pytest.raises(CurationError):
        await upkeep.confirm_translation(EDITOR, KEY, "az")
    await upkeep.confirm_translation(REVIEWER, KEY, "az")
    assert await upkeep.out_of_step() == []
    latest = (await curation.history(KEY))[0]
    assert latest.action == "confirm_translation" and latest.actor == "rita" and "az" in (latest.comment or "")
    with pytest.raises(CurationError):
        await upkeep.confirm_translation(REVIEWER, KEY, "az")  # nothing waits any more


async def test_changing_every_language_at_once_marks_none_and_a_second_change_adds_its_language(database):
    curation, kb, upkeep = Curation(database.sessions), KnowledgeBase(database.sessions), Upkeep(database.sessions)
    await publish_change(curation, kb, KEY, en="Note.", ru="Примечание.", az="Qeyd.")
    assert await upkeep.marks(KEY) == {}
    await publish_change(curation, kb, KEY, en="Another note.")
    since = (await upkeep.out_of_step())[0].since
    await publish_change(curation, kb, KEY, ru="Ещё примечание.")  # a catch-up of ru: no new marks
    await publish_change(curation, kb, KEY, en="A third note.")
    rows = {r.language: r for r in await upkeep.out_of_step()}
    assert set(rows) == {"az", "ru"}
    assert rows["az"].since == since  # waiting since the first change it missed
    assert rows["ru"].changed == ("en",)


async def test_facts_to_recheck_oldest_first_then_most_read_and_confirming_dates_them_today(database):
    curation, kb = Curation(database.sessions), KnowledgeBase(database.sessions)
    upkeep = Upkeep(database.sessions, today=TODAY)
    old, older = dt.date(2019, 5, 21), dt.date(2015, 1, 1)
    for key, confirmed in (("registration_fines", old), ("visa_evisa_asan", old), (KEY, older)):
        data = await kb.get(key)
        assert data is not None
        data.dated_facts = [DatedFact(fact=f"{key} fact", kind="fee", confirmed_on=confirmed)]
        await kb.upsert([data])
    async with database.sessions() as session, session.begin():  # visa_evisa_asan is read more
        session.add_all(SentAnswer(chat_hash=f"c{n}", message_id=n, key="visa_evisa_asan") for n in range(3))
        session.add(SentAnswer(chat_hash="c9", message_id=9, key="registration_fines"))

    facts = [f for f in await upkeep.facts_to_check() if f.fact.endswith(" fact")]
    assert [(f.key, f.reads) for f in facts] == [(KEY, 0), ("visa_evisa_asan", 3), ("registration_fines", 1)]
    assert facts[0].age_days(TODAY) == (TODAY - older).days
    by_reads = [f.key for f in await upkeep.facts_to_check("most_read") if f.fact.endswith(" fact")]
    assert by_reads == ["visa_evisa_asan", "registration_fines", KEY]

    # A draft started before the confirmation does not take it back when published.
    draft = await kb.get(KEY)
    assert draft is not None
    await curation.save_draft(EDITOR, draft)
    version = (await curation.view(KEY)).version  # type: ignore[union-attr]
    with pytest.raises(CurationError):
        await upkeep.confirm_fact(EDITOR, KEY, facts[0].index)
    assert await upkeep.confirm_fact(REVIEWER, KEY, facts[0].index, "checked on migration.gov.az") == f"{KEY} fact"
    assert (await curation.view(KEY)).version == version  # type: ignore[union-attr]  # the draft stays current
    await curation.submit(EDITOR, KEY)
    await curation.publish(REVIEWER, KEY)
    published = await kb.get(KEY)
    assert published is not None and published.dated_facts[0].confirmed_on == TODAY
    history = await curation.history(KEY)
    assert any(r.action == "confirm_fact" and "migration.gov.az" in (r.comment or "") for r in history)
    with pytest.raises(CurationError):
        await upkeep.confirm_fact(REVIEWER, KEY, 5)


async def test_the_seeds_new_entries_reach_an_existing_knowledge_base_and_edits_stay(database):
    kb = KnowledgeBase(database.sessions)
    count = await kb.count()
    edited = await kb.get(KEY)
    assert edited is not None
    edited.texts["en"].answer += "\nStaff edit."
    await kb.upsert([edited])
    new = edited.model_copy(deep=True)
    new.key = "brand_new_entry"
    for text in new.texts.values():
        text.question, text.variants = text.question + " (new)", [v + " (new)" for v in text.variants]
    clash = edited.model_copy(deep=True)
    clash.key = "clashing_entry"  # its questions belong to KEY already
    assert await kb.add_missing([edited, new, clash]) == 1
    assert await kb.count() == count + 1
    kept = await kb.get(KEY)
    assert kept is not None and kept.texts["en"].answer.endswith("Staff edit.")
    assert await kb.get("clashing_entry") is None


async def test_entries_from_before_labels_get_the_seeds_labels_and_staffs_labels_stay(database):
    kb = KnowledgeBase(database.sessions)
    seed = {e.key: e for e in await kb.export()}
    unlabelled, labelled = seed[KEY].model_copy(deep=True), seed["visa_free_stay"].model_copy(deep=True)
    unlabelled.subjects, unlabelled.aspects = [], []
    labelled.subjects, labelled.aspects = ["visa"], ["rules"]
    await kb.upsert([unlabelled, labelled])
    assert await kb.add_missing(list(seed.values())) == 0
    labels = {key: (subjects, aspects) for key, _, subjects, aspects, _ in await kb.labels()}
    assert labels[KEY] == (seed[KEY].subjects, seed[KEY].aspects)
    assert labels["visa_free_stay"] == (["visa"], ["rules"])


async def test_console_lists_translations_to_check_and_a_reviewer_confirms(console):
    async with client_for(console, "erin") as editor, client_for(console, "rita") as reviewer:
        assert "Every answer is in step" in await (await editor.get("/translations")).text()
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = form_of(page)
        form["en_answer"] += "\nA new sentence."
        form.update(action="submit", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page)})

        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        assert page.count("translation to check: the en answer changed") == 2
        listed = await (await editor.get("/translations")).text()
        assert listed.count('class="out-of-step"') == 2 and "Says the same" not in listed  # editors only read
        listed = await (await reviewer.get("/translations")).text()
        confirmed = await reviewer.post(
            "/translations/confirm", data={"csrf": csrf_of(listed), "key": KEY, "language": "az"}
        )
        text = await confirmed.text()
        assert "the Azerbaijani answer is confirmed as in step" in text
        assert text.count('class="out-of-step"') == 1 and ">Russian<" in text


async def test_console_recheck_list_confirms_and_the_entry_form_edits_facts(console):
    async with client_for(console, "erin") as editor, client_for(console, "rita") as reviewer:
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = form_of(page)
        form["dated_facts"] = "2001-02-03 | fee | A fee of 5 that nobody has checked\n\n"
        form.update(action="submit", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page)})

        listed = await (await editor.get("/recheck")).text()
        first = re.search(r'<tr class="fact">(.*?)</tr>', listed, re.S)
        assert first is not None and "A fee of 5 that nobody has checked" in first.group(1)
        assert "2001-02-03" in first.group(1) and "Confirmed today" not in listed
        listed = await (await reviewer.get("/recheck?order=most_read")).text()
        index = re.search(rf'name="key" value="{KEY}">\s*<input type="hidden" name="index" value="(\d+)"', listed)
        assert index is not None
        done = await reviewer.post(
            "/recheck/confirm",
            data={"csrf": csrf_of(listed), "key": KEY, "index": index.group(1), "order": "most_read"},
        )
        text = html.unescape(await done.text())
        assert "Confirmed today: " + KEY in text and "2001-02-03" not in text

        page = await (await editor.get(f"/entries/{KEY}")).text()
        bad = form_of(page)
        bad.update(dated_facts="a fee without date or kind", action="save", csrf=csrf_of(page))
        refused = await editor.post(f"/entries/{KEY}/save", data=bad)
        assert refused.status == 400 and "date | kind | fact" in html.unescape(await refused.text())


async def test_the_entry_form_edits_subjects_aspects_and_related_questions(console):
    async with client_for(console, "erin") as editor, client_for(console, "rita") as reviewer:
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = form_of(page)
        assert form["subjects"] == "registration" and "overview" in form["aspects"] and form["related"] == ""
        form.update(related="registration_fines, registration_online_steps", action="submit", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page)})
        published = await KnowledgeBase(console.app[STATE].console.curation._sessions).get(KEY)
        assert published is not None and published.related == ["registration_fines", "registration_online_steps"]

        page = await (await editor.get(f"/entries/{KEY}")).text()
        bad = form_of(page)
        bad.update(aspects="overview price", action="save", csrf=csrf_of(page))
        refused = await editor.post(f"/entries/{KEY}/save", data=bad)
        assert refused.status == 400 and "unknown aspects ['price']" in html.unescape(await refused.text())
