"""Handing the chat to people: when asked, and after the assistant failed to understand twice in a row.

The gateway does the handing over (it owns Telegram and the staff topics); the engine only says when, with
a `handoff` payload. Consecutive failures are counted with the slot `failed_turn`: the number of the last
user turn that was not understood, so no other action has to reset anything.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.utter import utter
from core import protocol

FAILED_TURN = "failed_turn"


def user_turn(tracker: Tracker) -> int:
    return sum(1 for event in tracker.events if event.get("event") == "user")


def second_failure_in_a_row(tracker: Tracker) -> bool:
    previous = tracker.get_slot(FAILED_TURN)
    return previous is not None and int(previous) == user_turn(tracker) - 1


def failure_marked(tracker: Tracker) -> list[dict[str, Any]]:
    return [SlotSet(FAILED_TURN, float(user_turn(tracker)))]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        utter(dispatcher, protocol.Handoff("asked"))
        return [SlotSet(FAILED_TURN, None)]
