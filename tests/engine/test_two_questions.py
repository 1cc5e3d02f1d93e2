"""Where a message may ask two things, and when the engine handles it as two (engine/questions.py)."""

from __future__ import annotations

import pytest

from engine.questions import MAX_CUTS, Parsed, cuts, worth_splitting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "how do I get a work permit and how long does it take?",
            ("how do I get a work permit", "how long does it take?"),
        ),
        ("Where is the call centre? What are its hours", ("Where is the call centre?", "What are its hours")),
        ("как получить внж и сколько это стоит", ("как получить внж", "сколько это стоит")),
        ("iş icazəsi necə alınır və nə qədər vaxt aparır?", ("iş icazəsi necə alınır", "nə qədər vaxt aparır?")),
        ("is icazesi nece alinir ve ne qeder vaxt aparir", ("is icazesi nece alinir", "ne qeder vaxt aparir")),
    ],
)
def test_second_questions_are_found_in_every_language(text, expected):
    assert expected in cuts(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I register",  # one question
        "can I work and study?",  # "and" before a verb, not a question word
        "bread and butter",  # too short either side
        "hi? ok",
    ],
)
def test_no_cut_where_no_second_question_can_start(text):
    assert cuts(text) == []


def test_at_most_a_few_cuts_are_tried():
    assert len(cuts("what is it? " * 10)) == MAX_CUTS


def parsed(intent: str, top: str, confidence: float, faq: float = 0.9) -> Parsed:
    return Parsed(intent, faq, ((top, confidence), ("other", 1 - confidence)))


def test_two_knowledge_base_questions_are_split():
    assert worth_splitting(parsed("faq", "a", 0.4), parsed("faq", "a", 0.8), parsed("faq", "b", 0.7))
    # The second half may be a follow-up that means nothing alone: the first half's answer gives it sense.
    assert worth_splitting(parsed("faq", "a", 0.4), parsed("faq", "a", 0.8), parsed("out_of_scope", "x", 0.2, 0.6))


def test_one_question_is_not_split():
    whole_is_clear = parsed("faq", "a", 0.95)
    assert not worth_splitting(whole_is_clear, parsed("faq", "a", 0.8), parsed("faq", "b", 0.7))
    assert not worth_splitting(parsed("faq", "a", 0.4), parsed("faq", "a", 0.3), parsed("faq", "b", 0.7))
    assert not worth_splitting(parsed("faq", "a", 0.4), parsed("greet", "a", 0.8), parsed("faq", "b", 0.7))
    assert not worth_splitting(parsed("faq", "a", 0.4), parsed("faq", "a", 0.8), parsed("thanks", "b", 0.7))
    # "I lost my passport. What do I do?": the same entry twice is one question.
    assert not worth_splitting(parsed("faq", "a", 0.4), parsed("faq", "a", 0.8), parsed("faq", "a", 0.6))
