"""The conversation as the actions see it: the entry answered last, and the latest message read in its light.

The entry answered last is read back from the tracker's own events (the `answer` payloads the bot sent), so
there is no slot to keep in step: a button pick, a follow-up and a direct answer all count the same way.
"""

from __future__ import annotations

import time

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.resources import Resources
from actions.utter import utter
from core import protocol
from engine.context import from_metadata, with_context
from engine.context import last_answer as answer_of
from engine.questions import SECOND_HALF, Parsed  # the channel marks the second question of two
from knowledge.conversation import CONTEXT_RULE, Reading, read, related
from knowledge.store import Answer


def picked_entry(tracker: Tracker) -> str | None:
    """The entry the user picked with a button ("did you mean", a clarifying question, related questions)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "entry" and entity.get("value"):
            return str(entity["value"])
    return None


def parsed(tracker: Tracker) -> Parsed:
    """The latest message's intent, knowledge-base share and entries, read as the engine's channel reads a parse."""
    return Parsed.of(tracker.latest_message)


def last_answer(tracker: Tracker, now: float | None = None) -> str | None:
    """The entry of the last answer the bot gave in this conversation, if it is recent."""
    events = reversed(tracker.events or [])
    bot = ((e.get("timestamp"), e.get("data")) for e in events if e.get("event") == "bot")
    answer = answer_of(bot, time.time() if now is None else now)
    return answer.entry if answer else None


def is_second_half(tracker: Tracker) -> bool:
    return bool((tracker.latest_message.get("metadata") or {}).get(SECOND_HALF))


async def reading_of(tracker: Tracker, shared: Resources) -> tuple[Reading, str | None]:
    """(how the latest message reads in this conversation, the entry answered before it)."""
    last = last_answer(tracker)
    picked = picked_entry(tracker)
    if picked:
        return Reading(picked, 1.0), last
    message = parsed(tracker)
    labels = await shared.labels.labels()
    rule = CONTEXT_RULE.for_second_half() if is_second_half(tracker) else CONTEXT_RULE
    context = from_metadata(tracker.latest_message.get("metadata"))
    # The engine's parse with the subject marker counts when it was made for the answer this reading follows.
    if context is not None and last in labels and context[0] == labels[last].main_subjects[0]:
        message = with_context(message, context[1], rule.mix)
    return read(message.intent, message.faq_share, dict(message.entries), labels, last, rule=rule), last


def answer_message(found: Answer, related: list[tuple[str, str]], subject: str | None) -> protocol.Answer:
    """An entry's answer as the gateway receives it; `related`: (key, question) of the entries offered next."""
    return protocol.Answer(
        entry=found.key,
        language=found.language,
        question=found.question,
        text=found.text,
        source=found.legal_source,
        source_url=found.source_url,
        reviewed_on=found.reviewed_on.isoformat(),
        review_state=found.review_state,
        subject=subject,
        related=tuple(protocol.Option(key, question) for key, question in related),
    )


async def utter_answer(dispatcher: CollectingDispatcher, shared: Resources, key: str, language: str) -> bool:
    """Sends entry `key`'s answer with up to three related questions; False if the entry is gone."""
    found = await shared.kb.answer(key, language)
    if found is None:
        return False
    labels = await shared.labels.labels()
    offered = await shared.labels.questions(related(key, labels), language)
    subject = labels[key].main_subjects[0] if key in labels else None
    utter(dispatcher, answer_message(found, offered, subject))
    if found.needs_person:
        utter(dispatcher, protocol.Handoff("sensitive_topic"))
    return True


async def utter_clarification(
    dispatcher: CollectingDispatcher, shared: Resources, reading: Reading, language: str
) -> None:
    assert reading.clarify is not None
    labels = await shared.labels.labels()
    options = tuple(
        protocol.Option(key, question, labels[key].main_subjects[0])
        for key, question in await shared.labels.questions(reading.clarify.options, language)
    )
    utter(dispatcher, protocol.Clarify(reading.clarify.aspect, options))
