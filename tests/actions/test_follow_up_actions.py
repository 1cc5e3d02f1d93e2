"""The FAQ actions read a message in the light of the conversation: the entry answered last comes from the
tracker's own events; a follow-up is answered from the entry that fits both; the second question of two does
not repeat the first's answer; a question about one aspect of several subjects gets a clarifying question."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.resources
from actions.context import last_answer
from actions.faq import ActionAcknowledge, ActionAnswerFaq, ActionDidYouMean, ActionOutOfScope
from actions.handoff import FAILED_TURN
from core.settings import Settings
from engine.context import CONTEXT, CONTEXT_MAX_AGE_S, to_metadata
from engine.questions import SECOND_HALF, Parsed
from knowledge.seeding import open_seeded


@pytest.fixture
async def shared(tmp_path, monkeypatch) -> AsyncIterator[actions.resources.Resources]:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    await (await open_seeded(settings)).close()  # seeded
    monkeypatch.setattr(actions.resources, "_settings", settings)
    monkeypatch.setattr(actions.resources, "_resources", None)
    resources = await actions.resources.resources()
    yield resources
    await resources.cases.close()
    await resources.database.close()


def answered(entry: str, seconds_ago: float = 5.0) -> list[dict[str, Any]]:
    """The events of one earlier exchange: the user's question and the bot's answer from `entry`."""
    now = time.time()
    return [
        {"event": "user", "timestamp": now - seconds_ago - 1, "text": "…"},
        {"event": "bot", "timestamp": now - seconds_ago, "data": {"custom": {"type": "answer", "entry": entry}}},
    ]


def tracker(
    scores: dict[str, float], intent: str = "faq", events: list | None = None, metadata: dict[str, Any] | None = None
) -> Tracker:
    total = sum(scores.values())
    message = {
        "text": "and how much is it?",
        "intent": {"name": intent, "confidence": 0.6},
        "intent_ranking": [{"name": intent, "confidence": 0.6}, {"name": "faq", "confidence": 0.4}],
        "entities": [],
        "metadata": {"language": "en", **(metadata or {})},
        "response_selector": {
            "faq": {
                "ranking": [{"intent_response_key": f"faq/{k}", "confidence": v / total} for k, v in scores.items()]
            }
        },
    }
    return Tracker(
        "s", {FAILED_TURN: 3.0}, message, [*(events or []), {"event": "user"}], False, None, {}, "action_listen"
    )


# A message the knowledge base cannot place: the same probability for entries of many subjects.
JUNK = (
    "visa_free_stay",
    "child_school_enrolment",  # none of them serves work permits
    "citizenship_dual",
    "refugee_apply",
    "bank_account_foreigners",
    "driving_foreign_licence",
    "health_care_foreigners",
    "marriage_foreigners",
    "tax_number_voen",
    "entry_by_air_only",
)
COSTS = {"work_permit_fees_quota": 0.3, "temporary_residence_fees": 0.32, "fees_overview": 0.1, "visa_free_stay": 0.28}


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, {})
    return [m["custom"] for m in dispatcher.messages], events


async def test_a_follow_up_is_answered_from_the_entry_that_fits_the_conversation(shared):
    said, events = await run(ActionAnswerFaq(), tracker(COSTS, events=answered("work_permit_how")))
    (answer,) = said
    assert (answer["type"], answer["entry"]) == ("answer", "work_permit_fees_quota")
    assert 1 <= len(answer["related"]) <= 3 and all(r["question"] for r in answer["related"])
    assert events == [{"event": "slot", "timestamp": None, "name": FAILED_TURN, "value": None}]
    said, _ = await run(ActionAnswerFaq(), tracker(COSTS, events=answered("temporary_residence_grounds")))
    assert said[0]["entry"] == "temporary_residence_fees"


async def test_without_a_recent_conversation_the_question_is_asked_about(shared):
    stale = answered("work_permit_how", seconds_ago=CONTEXT_MAX_AGE_S + 60)
    said, events = await run(ActionAnswerFaq(), tracker(COSTS, events=stale))
    (asked,) = said
    assert asked["type"] == "clarify" and asked["aspect"] == "cost"
    subjects = [o["subject"] for o in asked["options"]]
    assert "work_permit" in subjects and "temporary_residence" in subjects and len(set(subjects)) == len(subjects)
    assert events == []  # not a failure to understand


async def test_out_of_scope_and_no_are_answered_in_context_only_when_it_is_clear(shared):
    # "And the fee?" reads as out of scope alone; the engine's parse after the work permit's marker is clear.
    with_subject = {CONTEXT: to_metadata("work_permit", Parsed("faq", 0.9, (("work_permit_fees_quota", 0.95),)))}
    track = tracker(COSTS, "out_of_scope", answered("work_permit_how"), metadata=with_subject)
    said, _ = await run(ActionOutOfScope(), track)
    assert said[0]["entry"] == "work_permit_fees_quota"
    spread = dict.fromkeys(JUNK, 1.0)
    said, _ = await run(ActionAcknowledge(), tracker(spread, "deny", answered("work_permit_how")))
    assert said == [{"type": "say", "key": "anything_else", "args": {}}]


async def test_the_second_question_of_two_does_not_repeat_the_first_answer(shared):
    same = {"work_permit_how": 0.9, "work_permit_fees_quota": 0.1}
    said, _ = await run(
        ActionAnswerFaq(), tracker(same, events=answered("work_permit_how"), metadata={SECOND_HALF: True})
    )
    assert said == []
    junk = dict.fromkeys(JUNK, 1.0)
    said, _ = await run(
        ActionAnswerFaq(), tracker(junk, events=answered("work_permit_how"), metadata={SECOND_HALF: True})
    )
    assert said == []  # not understood: the first answer stands, no "did you mean" for half a message


def test_the_last_answer_is_read_from_the_bots_events():
    events = [
        *answered("visa_free_stay", 100),
        {"event": "bot", "timestamp": time.time(), "data": {"custom": {"type": "say"}}},
    ]
    assert last_answer(Tracker("s", {}, {}, events, False, None, {}, "action_listen")) == "visa_free_stay"
    assert last_answer(Tracker("s", {}, {}, [], False, None, {}, "action_listen")) is None


async def test_in_a_conversation_the_choices_come_from_the_weighted_ranking(shared):
    spread = dict.fromkeys(JUNK, 1.0) | dict.fromkeys(("work_permit_fees_quota", "work_permit_processing_time"), 1.0)
    # Not understood on its own (the NLU fallback), nor with the subject: after a work permit's answer, the
    # choices are about it.
    split = Parsed("nlu_fallback", 0.3, (("work_permit_fees_quota", 0.45), ("work_permit_processing_time", 0.45)))
    track = tracker(
        spread,
        intent="nlu_fallback",
        events=answered("highly_qualified_migrant_programme", 60),
        metadata={CONTEXT: to_metadata("work_permit", split)},
    )
    said, _ = await run(ActionDidYouMean(), track)
    (offered,) = said
    assert offered["type"] == "did_you_mean"
    assert {o["entry"] for o in offered["options"][:2]} == {"work_permit_fees_quota", "work_permit_processing_time"}


async def test_the_engines_parse_with_the_conversations_subject_decides_a_follow_up(shared):
    plain = {"temporary_residence_fees": 0.7, "work_permit_fees_quota": 0.05, **dict.fromkeys(JUNK, 0.025)}
    with_subject = Parsed("faq", 0.9, (("work_permit_fees_quota", 0.9), ("work_permit_how", 0.05)))
    context = {CONTEXT: to_metadata("work_permit", with_subject)}
    said, _ = await run(ActionAnswerFaq(), tracker(plain, events=answered("work_permit_how"), metadata=context))
    assert said[0]["entry"] == "work_permit_fees_quota"
    # A parse made for another subject than the last answer's is not this conversation's: the message alone.
    stale = {CONTEXT: to_metadata("visa", with_subject)}
    said, _ = await run(ActionAnswerFaq(), tracker(plain, events=answered("work_permit_how"), metadata=stale))
    assert said[0].get("entry") != "work_permit_fees_quota"


async def test_an_answer_names_its_subject_for_the_next_message(shared):
    said, _ = await run(ActionAnswerFaq(), tracker(COSTS, events=answered("work_permit_how")))
    assert said[0]["subject"] == "work_permit"
