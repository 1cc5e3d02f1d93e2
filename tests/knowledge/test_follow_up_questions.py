"""Entries' follow-up questions ("and how much is it?"): stored, trained, edited by staff, seeded."""

from __future__ import annotations

import html

import pytest
import yaml

from benchmarks.publishing import csrf_of, form_of
from console.web import STATE
from knowledge.curation import Actor, Curation, Role
from knowledge.schema import SEED_DIR, EntryData, load_dir
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from knowledge.training_data import render_nlu
from knowledge.unanswered import UnansweredLog
from tests.support.console import (
    client_for,
    console,  # noqa: F401 - fixture: a console with an editor and a reviewer
)

KEY = "work_permit_processing_time"


def load_seed() -> list[EntryData]:
    return load_dir(SEED_DIR)


@pytest.fixture
async def database(db_settings):
    database = await open_seeded(db_settings)
    yield database
    await database.close()


def examples_of(document: str) -> dict[str, list[str]]:
    return {
        item["intent"].removeprefix("faq/"): [line[2:] for line in item["examples"].splitlines()]
        for item in yaml.safe_load(document)["nlu"]
    }


def with_follow_ups(entry: EntryData, lang: str, *questions: str) -> EntryData:
    copy = entry.model_copy(deep=True)
    copy.texts[lang].follow_ups = list(questions)
    return copy


def test_follow_ups_are_trained_only_after_their_subjects_marker():
    seed = {e.key: e for e in load_seed()}
    time = with_follow_ups(seed[KEY], "en", "how long will they take to decide", "And how much is it?")
    fees = with_follow_ups(seed["work_permit_fees_quota"], "en", "and how much is it?", "who pays, me or the boss?")
    visa = with_follow_ups(seed["visa_free_stay"], "en", "and how much is it?")
    examples = examples_of(render_nlu([time, fees, visa]))
    assert "ctxworkpermit how long will they take to decide" in examples[KEY]
    assert "ctxworkpermit who pays, me or the boss?" in examples["work_permit_fees_quota"]
    assert not any(x == "how long will they take to decide" for x in examples[KEY])  # never on their own
    # Two entries of one subject with the same words: neither learns them; another subject's entry does.
    assert not any("how much is it" in x.lower() for x in examples[KEY] + examples["work_permit_fees_quota"])
    assert "ctxvisa and how much is it?" in examples["visa_free_stay"]


def test_follow_ups_repeating_each_other_are_refused():
    entry = load_seed()[0].model_dump()
    entry["texts"]["en"]["follow_ups"] = ["and the fee?", "And the fee?"]
    with pytest.raises(ValueError, match="follow-up questions repeat each other"):
        EntryData.model_validate(entry)


async def test_follow_ups_round_trip_and_may_be_shared_between_entries(database):
    kb = KnowledgeBase(database.sessions)
    seed = {e.key: e for e in await kb.export()}
    time = with_follow_ups(seed[KEY], "ru", "а по времени сколько", "а сколько это стоит")
    fees = with_follow_ups(seed["work_permit_fees_quota"], "ru", "а сколько это стоит", "кто платит")
    await kb.upsert([time, fees])
    stored = await kb.get(KEY)
    assert stored is not None
    assert stored.texts["ru"].follow_ups == ["а по времени сколько", "а сколько это стоит"]
    assert stored.texts["ru"].variants == seed[KEY].texts["ru"].variants  # the two kinds stay apart


async def test_entries_from_before_follow_ups_get_the_seeds_and_staffs_stay(database):
    kb = KnowledgeBase(database.sessions)
    seed = {e.key: e for e in await kb.export()}
    assert any(t.follow_ups for t in seed[KEY].texts.values()), "the seed has follow-up questions"
    bare = seed[KEY].model_copy(deep=True)
    for text in bare.texts.values():
        text.follow_ups = []
    staffs = with_follow_ups(seed["visa_free_stay"], "en", "and for my cousin?")
    for lang in ("az", "ru"):
        staffs.texts[lang].follow_ups = []
    await kb.upsert([bare, staffs])
    assert await kb.add_missing(list(seed.values())) == 0
    filled, kept = await kb.get(KEY), await kb.get("visa_free_stay")
    assert filled is not None and kept is not None
    assert {lang: t.follow_ups for lang, t in filled.texts.items()} == {
        lang: t.follow_ups for lang, t in seed[KEY].texts.items()
    }
    assert {lang: t.follow_ups for lang, t in kept.texts.items()} == {"az": [], "en": ["and for my cousin?"], "ru": []}


async def test_staff_edit_follow_ups_and_publishing_them_retrains(console):  # noqa: F811
    async with client_for(console, "erin") as editor, client_for(console, "rita") as reviewer:
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = {k: html.unescape(v) for k, v in form_of(page).items()}
        assert "en_follow_ups" in form
        form["en_follow_ups"] += "\nand how many weeks is that?\n"
        form.update(action="submit", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        published = await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page)})
        assert "the model is being retrained" in await published.text()
        page = await (await editor.get(f"/entries/{KEY}")).text()
        assert "and how many weeks is that?" in html.unescape(form_of(page)["en_follow_ups"])


def test_every_seed_entry_has_follow_up_questions_in_every_language():
    for entry in load_seed():
        for lang, text in entry.texts.items():
            assert len(text.follow_ups) >= 3, f"{entry.key}/{lang}: {len(text.follow_ups)} follow-up questions"


async def test_unanswered_follow_ups_show_their_context_and_become_follow_up_questions(database):
    kb = KnowledgeBase(database.sessions)
    curation, log = Curation(database.sessions), UnansweredLog(database.sessions)
    await log.record("and is there a cheaper way", "en", "low_confidence", 0.2, [], after="work_permit_how")
    await log.record("something about a work permit nobody wrote", "en", "low_confidence", 0.2, [])
    groups = {group.texts[0]: group for group in await log.groups()}
    assert groups["and is there a cheaper way"].after == ["work_permit_how"]
    assert groups["something about a work permit nobody wrote"].after == []
    ids = [i for group in groups.values() for i in group.ids]
    assert await log.attach(Actor("erin", Role.editor), curation, ids, "work_permit_fees_quota") == 2
    view = await curation.view("work_permit_fees_quota")
    assert view is not None and view.draft is not None
    english = view.draft.texts["en"]
    assert "and is there a cheaper way" in english.follow_ups and "and is there a cheaper way" not in english.variants
    assert "something about a work permit nobody wrote" in english.variants
    live = await kb.get("work_permit_fees_quota")
    assert live is not None and "and is there a cheaper way" not in live.texts["en"].follow_ups  # a draft only


async def test_unanswered_page_says_what_a_follow_up_was_asked_after(console):  # noqa: F811
    unanswered = console.app[STATE].console.unanswered
    await unanswered.record("and the cheaper way?", "en", "low_confidence", 0.2, [], after="work_permit_how")
    async with client_for(console, "erin") as editor:
        page = html.unescape(await (await editor.get("/unanswered")).text())
    assert "Asked in a conversation, after the answer to: work_permit_how" in page
