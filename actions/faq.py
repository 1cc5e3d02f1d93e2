"""Answering FAQ questions from the knowledge base, in the user's language; "did you mean" when unsure."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import FAILED_TURN, failure_marked, second_failure_in_a_row
from actions.resources import Resources, language_of, resources
from assistant import replies
from knowledge.training_data import RETRIEVAL_INTENT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectRule:
    """When the top entry is answered at once rather than offered among choices ("did you mean").

    With dozens of entries the selector's probabilities spread out: an answer is given when the top entry is likely
    in absolute terms, or clearly ahead of the runner-up. benchmarks.nlu_accuracy reports how often FAQ
    questions are answered directly and how often rightly, and grids these numbers on the development set."""

    confident: float = 0.5
    plausible: float = 0.3
    margin: float = 2.5

    def answers(self, confidence: float, runner_up: float) -> bool:
        return confidence >= self.confident or (confidence >= self.plausible and confidence >= self.margin * runner_up)


DIRECT_RULE = DirectRule()


def answers_directly(confidence: float, runner_up: float) -> bool:
    """Whether the top entry is answered at once, by the rule in use."""
    return DIRECT_RULE.answers(confidence, runner_up)


def selected_entry(tracker: Tracker) -> tuple[str | None, float, bool]:
    """The entry the user picked with a button, or the selector's choice: (key, confidence, confident)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "entry" and entity.get("value"):
            return str(entity["value"]), 1.0, True
    selector = (tracker.latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    response = selector.get("response") or {}
    full_key = response.get("intent_response_key") or ""
    if "/" not in full_key:
        return None, 0.0, False
    confidence = float(response.get("confidence") or 0.0)
    ranking = selector.get("ranking") or []
    runner_up = float(ranking[1].get("confidence") or 0.0) if len(ranking) > 1 else 0.0
    return full_key.split("/", 1)[1], confidence, answers_directly(confidence, runner_up)


async def log_unanswered(
    tracker: Tracker, shared: Resources, language: str, reason: str, confidence: float
) -> list[Any]:
    """Stores the user's message (redacted) for staff's Unanswered page; returns the closest entries."""
    text = str(tracker.latest_message.get("text") or "")
    hits = await shared.search.search(text, language, limit=3) if text else []
    if text and not text.startswith("/"):
        await shared.unanswered.record(text, language, reason, confidence, [hit.key for hit in hits])
    return hits


async def suggest(
    dispatcher: CollectingDispatcher, tracker: Tracker, shared: Resources, language: str, reason: str, confidence: float
) -> list[dict[str, Any]]:
    """Offers the closest entries as buttons, or says nothing fits and offers a person; logs the question.

    The second message in a row that is not understood goes to people instead.
    """
    hits = await log_unanswered(tracker, shared, language, reason, confidence)
    if second_failure_in_a_row(tracker):
        log.info("not understood twice in a row: handing the chat to people")
        dispatcher.utter_message(json_message=replies.handoff("not_understood"))
        return [SlotSet(FAILED_TURN, None)]
    if hits:
        dispatcher.utter_message(
            json_message=replies.did_you_mean([{"entry": hit.key, "question": hit.question} for hit in hits])
        )
    else:
        dispatcher.utter_message(json_message=replies.say("no_answer", offer_human=True))
    return failure_marked(tracker)


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        language = language_of(tracker, shared.settings.default_language)
        key, confidence, confident = selected_entry(tracker)
        found = await shared.kb.answer(key, language) if key and confident else None
        if found is None:
            log.info("FAQ not answered directly (entry %s, confidence %.2f): offering choices", key, confidence)
            return await suggest(dispatcher, tracker, shared, language, "low_confidence", confidence)
        log.info("answered entry %s in %s (confidence %.2f)", key, language, confidence)
        dispatcher.utter_message(json_message=replies.answer(found))
        if found.needs_person:
            dispatcher.utter_message(json_message=replies.handoff("sensitive_topic"))
        return []


class ActionDidYouMean(Action):
    """The NLU fallback: the message matched no intent confidently."""

    def name(self) -> str:
        return "action_did_you_mean"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        language = language_of(tracker, shared.settings.default_language)
        ranking = tracker.latest_message.get("intent_ranking") or []
        runner_up: dict[str, Any] = next((i for i in ranking if i.get("name") != "nlu_fallback"), {})
        return await suggest(
            dispatcher, tracker, shared, language, "fallback", float(runner_up.get("confidence") or 0.0)
        )


class ActionOutOfScope(Action):
    """Out of scope: says what the assistant covers, and logs the question for staff like an unanswered one.

    Why: a question read as out of scope is also one the assistant did not answer. Staff see them on the
    "Unanswered" page, so a migration question the model misread as out of scope can become a variant."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        language = language_of(tracker, shared.settings.default_language)
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        await log_unanswered(tracker, shared, language, "out_of_scope", confidence)
        dispatcher.utter_message(json_message=replies.say("out_of_scope"))
        return []
