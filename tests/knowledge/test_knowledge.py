import datetime as dt
import re

import pytest
import yaml
from pydantic import ValidationError

from core.settings import LANGUAGES
from knowledge.models import TOPICS
from knowledge.schema import SEED_DIR, EntryData, dump_yaml, load_dir, load_yaml
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from knowledge.training_data import render_nlu


def test_seed_covers_every_topic_in_every_language_with_sources():
    entries = load_dir(SEED_DIR)
    for topic in TOPICS:
        assert sum(e.topic == topic for e in entries) >= 2, topic
    for entry in entries:
        assert entry.topic in TOPICS
        assert entry.legal_source and entry.reviewed_on <= dt.date.today()
        for language in LANGUAGES:
            assert len(entry.texts[language].variants) >= 6, (entry.key, language)
        if entry.review_state == "needs_review":
            assert entry.review_note, f"{entry.key}: say what is uncertain"
        for language in ("az", "ru"):  # users read the source in their own language
            assert entry.texts[language].source, (entry.key, language)
        for fact in entry.dated_facts:
            assert fact.confirmed_on <= entry.reviewed_on, (entry.key, fact.fact)
    assert len(entries) >= 94
    # Fees and phone numbers change by decision: every answer stating a sum of manats or the call centre's
    # number says when that was last confirmed.
    undated = [e.key for e in entries if not e.dated_facts and any(_states_a_fee(t.answer) for t in e.texts.values())]
    assert undated == []


def _states_a_fee(answer: str) -> bool:
    return bool(re.search(r"\d[\d  ]*\s*(AZN|manat|манат)", answer))


def test_entries_without_a_language_are_rejected():
    raw = load_dir(SEED_DIR)[0].model_dump()
    del raw["texts"]["ru"]
    with pytest.raises(ValidationError, match="missing languages"):
        EntryData.model_validate(raw)


def test_a_question_under_two_entries_is_rejected(tmp_path):
    first, second = (e.model_dump(mode="json") for e in load_dir(SEED_DIR)[:2])
    # The same Russian question, spaced and cased differently, under a second entry.
    second["texts"]["ru"]["variants"].append("  " + first["texts"]["ru"]["question"].upper())
    (tmp_path / "two.yml").write_text(yaml.safe_dump([first, second], allow_unicode=True), encoding="utf-8")
    for load in (load_dir, lambda folder: load_yaml(folder / "two.yml")):  # a folder, or one file to import
        with pytest.raises(ValueError, match=f"two entries.*ru.*{first['key']}, {second['key']}"):
            load(tmp_path)


async def test_round_trip_through_the_database(db_settings):
    database = await open_seeded(db_settings)
    try:
        kb = KnowledgeBase(database.sessions)
        seeded = load_dir(SEED_DIR)
        assert await kb.count() == len(seeded)
        exported = await kb.export()
        assert {e.key: e for e in exported} == {e.key: e for e in seeded}
        answer = await kb.answer("registration_who_when_how", "ru")
        assert answer is not None and answer.language == "ru" and "15" in answer.text
        assert await kb.answer("no_such_entry", "en") is None
        # Republishing bumps the version, which is what caches watch.
        before = await kb.stamp()
        await kb.upsert([seeded[0]])
        assert (await kb.stamp())[1] == before[1] + 1
    finally:
        await database.close()


def test_generated_training_data_has_every_variant():
    entries = load_dir(SEED_DIR)
    document = yaml.safe_load(render_nlu(entries))
    intents = {item["intent"]: item["examples"] for item in document["nlu"]}
    for entry in entries:
        examples = intents[f"faq/{entry.key}"]
        for language in LANGUAGES:
            for variant in entry.texts[language].variants:
                assert f"- {' '.join(variant.split())}\n" in examples
        assert f"utter_faq/{entry.key}" in document["responses"]


def test_yaml_export_reimports_identically():
    entries = load_dir(SEED_DIR)
    again = [EntryData.model_validate(x) for x in yaml.safe_load(dump_yaml(entries))]
    assert again == entries
