"""The conversation as the actions see it: the entry answered last, and the latest message read in its light.

The entry answered last is read back from the tracker's own events (the `answer` payloads the bot sent), so
there is no slot to keep in step: a button pick, a follow-up and a direct answer all count the same way.
"""

from __future__ import annotations

import time

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.resources import Resources
from assistant import replies
from engine.questions import SECOND_HALF  # the engine's channel marks the second question of two
from knowledge.conversation import CONTEXT_RULE, Reading, read, related
from knowledge.training_data import RETRIEVAL_INTENT

# A conversation older than this is no longer one: the next question is read on its own.
CONTEXT_MAX_AGE_S = 30 * 60


def picked_entry(tracker: Tracker) -> str | None:
    """The entry the user picked with a button ("did you mean", a clarifying question, related questions)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "entry" and entity.get("value"):
            return str(entity["value"])
    return None


def entry_scores(tracker: Tracker) -> dict[str, float]:
    """The selector's probability of every entry for the latest message."""
    selector = (tracker.latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    scores = {}
    for item in selector.get("ranking") or []:
        key = str(item.get("intent_response_key") or "").partition("/")[2]
        if key:
            scores[key] = float(item.get("confidence") or 0.0)
    return scores


def last_answer(tracker: Tracker, now: float | None = None, max_age_s: float = CONTEXT_MAX_AGE_S) -> str | None:
    """The entry of the last answer the bot gave in this conversation, if it is recent."""
    now = time.time() if now is None else now
    for event in reversed(tracker.events or []):
        if event.get("event") != "bot":
            continue
        if now - float(event.get("timestamp") or 0.0) > max_age_s:
            return None
        custom = (event.get("data") or {}).get("custom") or {}
        if isinstance(custom, dict) and custom.get("type") == "answer" and custom.get("entry"):
            return str(custom["entry"])
    return None


def is_second_half(tracker: Tracker) -> bool:
    return bool((tracker.latest_message.get("metadata") or {}).get(SECOND_HALF))


def faq_share(tracker: Tracker) -> float:
    ranking = tracker.latest_message.get("intent_ranking") or []
    return next((float(i.get("confidence") or 0.0) for i in ranking if i.get("name") == "faq"), 0.0)


async def reading_of(tracker: Tracker, shared: Resources) -> tuple[Reading, str | None]:
    """(how the latest message reads in this conversation, the entry answered before it)."""
    last = last_answer(tracker)
    picked = picked_entry(tracker)
    if picked:
        return Reading(picked, 1.0), last
    intent = str((tracker.latest_message.get("intent") or {}).get("name") or "")
    labels = await shared.labels.labels()
    rule = CONTEXT_RULE.for_second_half() if is_second_half(tracker) else CONTEXT_RULE
    reading = read(intent, faq_share(tracker), entry_scores(tracker), labels, last, rule=rule)
    return reading, last


async def utter_answer(dispatcher: CollectingDispatcher, shared: Resources, key: str, language: str) -> bool:
    """Sends entry `key`'s answer with up to three related questions; False if the entry is gone."""
    found = await shared.kb.answer(key, language)
    if found is None:
        return False
    labels = await shared.labels.labels()
    offered = await shared.labels.questions(related(key, labels), language)
    dispatcher.utter_message(json_message=replies.answer(found, offered))
    if found.needs_person:
        dispatcher.utter_message(json_message=replies.handoff("sensitive_topic"))
    return True


async def utter_clarification(
    dispatcher: CollectingDispatcher, shared: Resources, reading: Reading, language: str
) -> None:
    assert reading.clarify is not None
    labels = await shared.labels.labels()
    options = [
        {"entry": key, "subject": labels[key].main_subjects[0], "question": question}
        for key, question in await shared.labels.questions(reading.clarify.options, language)
    ]
    dispatcher.utter_message(json_message=replies.clarify(reading.clarify.aspect, options))
