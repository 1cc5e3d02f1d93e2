"""Answering FAQ questions from the knowledge base, in the user's language; "did you mean" when unsure."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import is_second_half, parsed, picked_entry, reading_of, utter_answer, utter_clarification
from actions.handoff import FAILED_TURN, failure_marked, second_failure_in_a_row
from actions.resources import Resources, language_of, resources
from actions.utter import utter
from core import protocol
from knowledge.conversation import Reading, answers_directly

log = logging.getLogger(__name__)


def selected_entry(tracker: Tracker) -> tuple[str | None, float, bool]:
    """The entry the user picked with a button, or the selector's choice: (key, confidence, confident)."""
    picked = picked_entry(tracker)
    if picked:
        return picked, 1.0, True
    ranking = parsed(tracker).entries
    if not ranking:
        return None, 0.0, False
    key, confidence = ranking[0]
    runner_up = ranking[1][1] if len(ranking) > 1 else 0.0
    return key, confidence, answers_directly(confidence, runner_up)


async def log_unanswered(
    tracker: Tracker, shared: Resources, language: str, reason: str, confidence: float, last: str | None
) -> list[Any]:
    """Stores the user's message (redacted) for staff's Unanswered page, with the entry answered just before
    it (`last`); returns the closest entries."""
    text = str(tracker.latest_message.get("text") or "")
    hits = await shared.search.search(text, language, limit=3) if text else []
    if text and not text.startswith("/"):
        await shared.unanswered.record(text, language, reason, confidence, [hit.key for hit in hits], last)
    return hits


async def suggest(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    shared: Resources,
    language: str,
    reason: str,
    confidence: float,
    reading: Reading,
    last: str | None,
) -> list[dict[str, Any]]:
    """Offers the closest entries as buttons, or says nothing fits and offers a person; logs the question.

    The second message in a row that is not understood goes to people instead.
    """
    hits = await log_unanswered(tracker, shared, language, reason, confidence, last)
    if second_failure_in_a_row(tracker):
        log.info("not understood twice in a row: handing the chat to people")
        utter(dispatcher, protocol.Handoff("not_understood"))
        return [SlotSet(FAILED_TURN, None)]
    options = [(hit.key, hit.question) for hit in hits]
    if last is not None and reading.ranking:
        # In a conversation the weighted ranking knows better than the words alone: after a residence permit,
        # "and the fee?" offers that permit's fee among the choices (dev follow-ups: right entry in the top
        # three 0.84 weighted, 0.71 alone).
        options = await shared.labels.questions([key for key, _ in reading.ranking[:3]], language)
    if options:
        utter(dispatcher, protocol.DidYouMean(tuple(protocol.Option(key, question) for key, question in options)))
    else:
        utter(dispatcher, protocol.Say("no_answer", offer_human=True))
    return failure_marked(tracker)


async def answer_in_context(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    shared: Resources,
    language: str,
    reading: Reading,
    last: str | None,
) -> tuple[bool, list[dict[str, Any]]]:
    """Answers the latest message if the conversation makes it clear (a question of its own, a follow-up, a
    button pick) or asks which subject a question means; (done, events). A follow-up answered this way resets
    the count of messages not understood: it was understood."""
    if reading.entry is not None:
        if is_second_half(tracker) and reading.entry == last:
            log.info("second question of the message asks for entry %s again: not repeated", reading.entry)
            return True, []
        if await utter_answer(dispatcher, shared, reading.entry, language):
            how = f"in context of {last}" if reading.in_context else "alone"
            log.info(
                "answered entry %s in %s (confidence %.2f, read %s)", reading.entry, language, reading.confidence, how
            )
            return True, [SlotSet(FAILED_TURN, None)] if reading.in_context else []
    if reading.clarify is not None and not is_second_half(tracker):
        log.info("question fits several subjects' %s: asking which", reading.clarify.aspect)
        await utter_clarification(dispatcher, shared, reading, language)
        return True, []
    if is_second_half(tracker):
        log.info("second question of the message not understood: the first one's answer stands")
        return True, []
    return False, []


class InContext(Action, metaclass=ABCMeta):
    """An action that first tries to answer the message in the light of the conversation, and does what it is
    for (`otherwise`) only when that does not settle it."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        language = language_of(tracker, shared.settings.default_language)
        reading, last = await reading_of(tracker, shared)
        done, events = await answer_in_context(dispatcher, tracker, shared, language, reading, last)
        return events if done else await self.otherwise(dispatcher, tracker, shared, language, reading, last)

    @abstractmethod  # abstract: rasa-sdk registers only concrete actions
    async def otherwise(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        shared: Resources,
        language: str,
        reading: Reading,
        last: str | None,
    ) -> list[dict[str, Any]]: ...


class ActionAnswerFaq(InContext):
    def name(self) -> str:
        return "action_answer_faq"

    async def otherwise(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        shared: Resources,
        language: str,
        reading: Reading,
        last: str | None,
    ) -> list[dict[str, Any]]:
        key, confidence, _ = selected_entry(tracker)
        log.info("FAQ not answered directly (entry %s, confidence %.2f): offering choices", key, confidence)
        return await suggest(dispatcher, tracker, shared, language, "low_confidence", confidence, reading, last)


class ActionDidYouMean(InContext):
    """The NLU fallback: the message matched no intent confidently (unless the conversation makes it clear)."""

    def name(self) -> str:
        return "action_did_you_mean"

    async def otherwise(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        shared: Resources,
        language: str,
        reading: Reading,
        last: str | None,
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        runner_up: dict[str, Any] = next((i for i in ranking if i.get("name") != "nlu_fallback"), {})
        confidence = float(runner_up.get("confidence") or 0.0)
        return await suggest(dispatcher, tracker, shared, language, "fallback", confidence, reading, last)


class ActionOutOfScope(InContext):
    """Out of scope: says what the assistant covers, and logs the question for staff like an unanswered one.

    Why: a question read as out of scope is also one the assistant did not answer. Staff see them on the
    "Unanswered" page, so a migration question the model misread as out of scope can become a variant.
    In a conversation, "and what about my wife?" may read as out of scope on its own: it is answered in context
    when the conversation makes it clear."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def otherwise(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        shared: Resources,
        language: str,
        reading: Reading,
        last: str | None,
    ) -> list[dict[str, Any]]:
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        await log_unanswered(tracker, shared, language, "out_of_scope", confidence, last)
        utter(dispatcher, protocol.Say("out_of_scope"))
        return []


class ActionAcknowledge(InContext):
    """ "Yes", "no", "ok": "what else would you like to know?", unless the conversation makes the message a
    question ("and if they say no?" after an answer about asylum)."""

    def name(self) -> str:
        return "action_acknowledge"

    async def otherwise(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        shared: Resources,
        language: str,
        reading: Reading,
        last: str | None,
    ) -> list[dict[str, Any]]:
        utter(dispatcher, protocol.Say("anything_else"))
        return []
