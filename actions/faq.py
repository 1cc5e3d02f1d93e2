"""Answering FAQ questions from the knowledge base, in the user's language."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.resources import language_of, resources
from assistant import replies
from knowledge.training_data import RETRIEVAL_INTENT

log = logging.getLogger(__name__)


def selected_entry(tracker: Tracker) -> tuple[str | None, float]:
    """The knowledge-base key the response selector picked for the latest message, and its confidence."""
    selector = (tracker.latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    response = selector.get("response") or {}
    full_key = response.get("intent_response_key") or ""
    if "/" not in full_key:
        return None, 0.0
    return full_key.split("/", 1)[1], float(response.get("confidence") or 0.0)


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        shared = await resources()
        language = language_of(tracker, shared.settings.default_language)
        key, confidence = selected_entry(tracker)
        found = await shared.kb.answer(key, language) if key else None
        if found is None:
            log.warning("no published answer for selected entry %s", key)
            dispatcher.utter_message(json_message=replies.say("not_understood"))
            return []
        log.info("answered entry %s in %s (confidence %.2f)", key, language, confidence)
        dispatcher.utter_message(json_message=replies.answer(found))
        return []
