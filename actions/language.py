"""Switching the conversation language when the user asks for it in words."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.utter import utter
from core import protocol
from core.settings import LANGUAGES

# Stems of language names as users type them, for when the entity extractor missed the name.
_NAME_STEMS = {
    "en": ("english", "ingilis", "англ", "angli"),
    "ru": ("russian", "rus", "русск", "русс", "po-russ", "russk"),
    "az": ("azer", "azər", "азерб", "azeri"),
}


def requested_language(tracker: Tracker) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "language":
            value = str(entity.get("value", "")).lower()
            if value in LANGUAGES:
                return value
            for code, stems in _NAME_STEMS.items():
                if any(stem in value for stem in stems):
                    return code
    text = str(tracker.latest_message.get("text") or "").lower()
    hits = {code for code, stems in _NAME_STEMS.items() if any(stem in text for stem in stems)}
    return hits.pop() if len(hits) == 1 else None


class ActionChooseLanguage(Action):
    def name(self) -> str:
        return "action_choose_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = requested_language(tracker)
        utter(dispatcher, protocol.SetLanguage(language) if language else protocol.LanguageMenu())
        return []
