"""The dialogue sets (nlu_dev/ for choosing, nlu_test/ for reporting): big enough, labelled with entries that
exist, and apart from each other and from the training data."""

from __future__ import annotations

import pytest

from benchmarks.dialogues import read_sets, seed_labels
from core.settings import LANGUAGES, PROJECT_ROOT
from knowledge.schema import load_dir, normal_question

SEED = PROJECT_ROOT / "knowledge" / "seed"


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_each_language_has_enough_dialogues_of_two_or_three_turns(split):
    sets, keys = read_sets(split), set(seed_labels())
    for lang in LANGUAGES:
        dialogues = [d for d in sets.dialogues if d.language == lang]
        assert len(dialogues) >= 40 and all(2 <= len(d.turns) <= 3 for d in dialogues)
        assert all(0 not in d.new_subject for d in dialogues)
        pairs = [q for q in sets.two_questions if q.language == lang]
        assert len(pairs) >= 20 and all(q.entries[0] != q.entries[1] for q in pairs)
        assert len([a for a in sets.ambiguous if a.language == lang]) >= 6
    used = {e for d in sets.dialogues for _, e in d.turns} | {e for q in sets.two_questions for e in q.entries}
    used |= {o for a in sets.ambiguous for o in a.options}
    assert used <= keys, used - keys


def standalone(split: str) -> set[str]:
    """The texts that are read without a conversation: first turns and two-question messages. (Follow-ups such
    as "how much is it?" are naturally written alike in both sets; their answer depends on the turn before.)"""
    sets = read_sets(split)
    return {normal_question(d.turns[0][0]) for d in sets.dialogues} | {
        normal_question(q.text) for q in sets.two_questions
    }


def test_the_held_out_dialogues_share_no_text_with_the_development_ones_or_the_training_data():
    training = {
        normal_question(q)
        for e in load_dir(SEED)
        for t in e.texts.values()
        for q in (t.question, *t.variants, *t.follow_ups)
    }
    sets = read_sets("heldout")
    every = {normal_question(t) for d in sets.dialogues for t, _ in d.turns}
    assert not (every | {normal_question(q.text) for q in sets.two_questions}) & training
    assert not standalone("heldout") & standalone("dev")
