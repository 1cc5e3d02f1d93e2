"""Reading a message in the light of the conversation (knowledge/conversation.py): follow-ups, questions
that fit several subjects, and the questions offered next."""

from __future__ import annotations

import pytest

from core.settings import PROJECT_ROOT
from knowledge.conversation import (
    NEXT_ASPECTS,
    ContextRule,
    Labels,
    clarification,
    in_context,
    labels_of,
    read,
    related,
)
from knowledge.models import ASPECTS
from knowledge.schema import load_dir

LABELS = {
    e.key: e
    for e in (
        Labels("wp_how", "work_permit", ("work_permit",), ("overview", "documents")),
        Labels("wp_cost", "fees", ("work_permit",), ("cost",)),
        Labels("wp_time", "processing_times", ("work_permit",), ("time",)),
        Labels("trp_how", "temporary_residence", ("temporary_residence",), ("overview",)),
        Labels("trp_cost", "temporary_residence", ("temporary_residence",), ("cost",)),
        Labels("trp_time", "processing_times", ("temporary_residence",), ("time",)),
        Labels("prp_how", "permanent_residence", ("permanent_residence",), ("overview",)),
        Labels("fees_all", "fees", ("fees", "permanent_residence", "work_permit"), ("cost",)),
        Labels("reg_how", "registration", ("registration",), ("overview",)),
    )
}


# The mechanism with fixed weights (the shipped ones are tuned on the development dialogues and may move).
RULE = ContextRule(
    subject_boost=4.0, aspect_boost=1.0, repeat=0.2, message_aspect=0.0, confident=0.5, plausible=0.3, margin=2.5
)


def test_every_aspect_has_a_place_in_the_order_of_related_questions():
    assert sorted(NEXT_ASPECTS) == sorted(ASPECTS)


def test_a_follow_up_that_names_only_an_aspect_takes_the_subject_of_the_last_answer():
    how_much = {"wp_cost": 0.3, "trp_cost": 0.32, "fees_all": 0.1, "reg_how": 0.28}
    assert read("faq", 0.9, how_much, LABELS, None).entry is None  # alone: which cost?
    reading = read("faq", 0.9, how_much, LABELS, "wp_how", rule=RULE)
    assert (reading.entry, reading.in_context) == ("wp_cost", True)
    assert read("faq", 0.9, how_much, LABELS, "trp_how", rule=RULE).entry == "trp_cost"


def test_a_follow_up_that_names_only_a_subject_takes_the_aspect_of_the_last_answer():
    permanent_one = {"prp_how": 0.35, "fees_all": 0.4, "trp_cost": 0.05, "reg_how": 0.2}
    assert read("faq", 0.9, permanent_one, LABELS, "trp_cost", rule=RULE).entry == "fees_all"


def test_a_question_of_its_own_is_not_pulled_into_the_conversation():
    register = {"reg_how": 0.8, "wp_time": 0.1, "wp_cost": 0.1}
    assert read("faq", 0.95, register, LABELS, "wp_how", rule=RULE).entry == "reg_how"


def test_other_intents_are_answered_in_context_only_with_a_clear_winner():
    and_if_no = {"wp_time": 0.5, "trp_time": 0.3, "reg_how": 0.2}
    assert read("deny", 0.3, and_if_no, LABELS, "wp_how", rule=RULE).entry == "wp_time"
    assert read("deny", 0.3, and_if_no, LABELS, None).entry is None  # no conversation: "no" is "no"
    spread = {key: 1 / len(LABELS) for key in LABELS}
    assert read("deny", 0.3, spread, LABELS, "reg_how", rule=RULE).entry is None
    assert read("deny", 0.01, and_if_no, LABELS, "wp_how", rule=RULE).entry is None  # not a question at all
    assert read("greet", 0.3, and_if_no, LABELS, "wp_how", rule=RULE).entry is None


def test_the_last_answer_is_weighted_down_and_unknown_entries_change_nothing():
    scores = {"wp_how": 0.5, "wp_time": 0.5}
    weighted = in_context(scores, LABELS, "wp_how", ContextRule(repeat=0.2))
    assert weighted["wp_time"] > weighted["wp_how"]
    assert in_context(scores, LABELS, "gone_entry") == scores


def test_a_question_about_one_aspect_of_several_subjects_gets_a_clarifying_question():
    how_long = {"wp_time": 0.34, "trp_time": 0.33, "reg_how": 0.23, "wp_how": 0.1}
    asked = clarification(how_long, LABELS)
    assert asked is not None and asked.aspect == "time"
    assert asked.options == ("wp_time", "trp_time")
    assert read("faq", 0.9, how_long, LABELS, None).clarify == asked
    assert clarification({"wp_time": 0.5, "wp_cost": 0.5}, LABELS) is None  # one subject: no question


def test_related_questions_are_the_subjects_other_aspects_or_staffs_choice():
    assert related("wp_how", LABELS) == ["wp_cost", "wp_time"]  # fees_all: cost again
    assert related("fees_all", LABELS) == ["prp_how"]  # "fees" is nobody's main subject: the next one's
    chosen = {**LABELS, "wp_how": Labels("wp_how", "work_permit", ("work_permit",), ("overview",), ("reg_how", "gone"))}
    assert related("wp_how", chosen) == ["reg_how"]
    assert related("missing", LABELS) == []


@pytest.fixture(scope="module")
def seed_labels() -> dict[str, Labels]:
    return labels_of(load_dir(PROJECT_ROOT / "knowledge" / "seed"))


def test_every_seed_entry_is_labelled_and_offers_related_questions(seed_labels):
    assert all(label.subjects and label.aspects for label in seed_labels.values())
    without = [key for key in seed_labels if not related(key, seed_labels)]
    assert without == []
    for key in seed_labels:
        assert key not in related(key, seed_labels)
