"""The held-out test set stays a fair test: big enough in every language, covering every knowledge-base
entry, and never trained on. The development set, on which choices are made, covers the same labels and
shares nothing with either."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.heldout import Example, development, heldout, normalized, verification_cases
from benchmarks.nlu_accuracy import SEED, training_examples
from core.settings import LANGUAGES
from knowledge.schema import load_dir

INTENTS = {
    "greet",
    "goodbye",
    "thanks",
    "help",
    "choose_language",
    "human_handoff",
    "check_status",
    "affirm",
    "deny",
    "bot_challenge",
    "out_of_scope",
}


def intents_short_of(examples: list[Example], minimum: int) -> dict[str, int]:
    """Intents with fewer than `minimum` examples (a missing intent counts 0)."""
    per_intent = Counter(e.intent for e in examples)
    return {i: per_intent[i] for i in INTENTS if per_intent[i] < minimum}


def entry_keys() -> set[str]:
    return {e.key for e in load_dir(Path(SEED))}


def trained_texts() -> set[str]:
    return {normalized(e.text) for e in training_examples(load_dir(Path(SEED)))}


@pytest.mark.parametrize("language", LANGUAGES)
def test_at_least_20_examples_per_intent_and_2_per_entry(language):
    examples = heldout((language,))
    assert intents_short_of(examples, 20) == {}
    per_entry = Counter(e.entry for e in examples if e.entry)
    entries = entry_keys()
    assert {k: per_entry.get(k, 0) for k in entries if per_entry.get(k, 0) < 2} == {}
    assert set(per_entry) <= entries, "held-out examples for entries that do not exist"
    numbers = [e for e in examples if any(kind == "application_number" for kind, _ in e.entities)]
    assert len(numbers) >= 3


def test_nothing_held_out_is_trained_on():
    trained = trained_texts()
    overlap = sorted({e.text for e in heldout() if normalized(e.text) in trained})
    assert overlap == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_development_set_covers_every_intent_and_entry(language):
    examples = development((language,))
    assert intents_short_of(examples, 6) == {}
    assert {e.entry for e in examples if e.entry} == entry_keys()


def test_the_development_set_is_neither_trained_on_nor_held_out():
    trained = trained_texts()
    held_out = {normalized(e.text) for e in heldout()}
    texts = [e.text for e in development()]
    assert sorted(t for t in texts if normalized(t) in trained) == []
    assert sorted(t for t in texts if normalized(t) in held_out) == []


def test_verification_cases_cover_every_language_and_both_kinds():
    cases = verification_cases()
    assert {c["lang"] for c in cases} == set(LANGUAGES)
    assert all(("date" in c) or ("fin" in c) for c in cases)
    assert sum(1 for c in cases if c.get("date")) >= 15 and sum(1 for c in cases if c.get("fin")) >= 5
