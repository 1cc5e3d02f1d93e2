"""The application-status conversation: collect the number and verification data, look the case up safely.

Slots hold vault references only (actions/vault.py). Lookups are refused while a user is locked out after
repeated failed verifications. "Not found" and "wrong verification data" get the same answer. Whatever the
outcome, the verification data are forgotten after the lookup.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.case_client import Found, NotFound, RateLimited
from actions.resources import language_of, resources
from actions.subscriptions import FINAL_STATUSES
from actions.vault import is_ref
from actions.verification import parse_verification
from assistant import replies
from case_api.numbers import normalize_application_number

log = logging.getLogger(__name__)
_NUMBER_IN_TEXT = re.compile(r"[A-Za-zА-Яа-я]{3}[-\s]?\d{4}[-\s]?\d{6}")
CLEARED = [SlotSet("application_number", None), SlotSet("verification", None)]


def find_application_number(text: str) -> str | None:
    match = _NUMBER_IN_TEXT.search(text)
    return normalize_application_number(match.group()) if match else normalize_application_number(text)


class ValidateStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_status_form"

    async def validate_application_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return await _into_vault(
            "application_number", slot_value, find_application_number, "status_number_invalid", dispatcher, tracker
        )

    async def validate_verification(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return await _into_vault(
            "verification", slot_value, _encoded_verification, "status_verification_invalid", dispatcher, tracker
        )


def _encoded_verification(text: str) -> str | None:
    verification = parse_verification(text)
    if verification is None:
        return None
    if verification.date_of_birth:
        return f"dob:{verification.date_of_birth.isoformat()}"
    return f"fin:{verification.personal_id}"


async def _into_vault(
    slot: str,
    slot_value: Any,
    read: Callable[[str], str | None],
    invalid_key: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> dict[str, Any]:
    """A form slot's value as a vault reference; what cannot be read is refused with `invalid_key`."""
    if is_ref(slot_value):
        return {slot: slot_value}
    value = read(str(slot_value or ""))
    if value is None:
        dispatcher.utter_message(json_message=replies.say(invalid_key))
        return {slot: None}
    shared = await resources()
    return {slot: await shared.vault.put(tracker.sender_id, value)}


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        sender = tracker.sender_id
        number = await shared.vault.get(sender, tracker.get_slot("application_number"))
        verification = await shared.vault.get(sender, tracker.get_slot("verification"))
        await shared.vault.forget(sender)  # whatever happens next, the verification data are not kept
        if number is None or verification is None:
            dispatcher.utter_message(json_message=replies.say("status_expired"))
            return CLEARED
        until = await shared.lockout.locked_until(sender)
        if until is not None:
            log.warning("status lookup refused: user locked out after failed verifications")
            dispatcher.utter_message(json_message=replies.say("status_locked", until=until.isoformat()))
            return CLEARED
        kind, value = verification.split(":", 1)
        result = await shared.cases.lookup(
            number,
            date_of_birth=dt.date.fromisoformat(value) if kind == "dob" else None,
            personal_id=value if kind == "fin" else None,
        )
        if isinstance(result, Found):
            log.info("status lookup succeeded (service %s)", result.application.service_type)
            payload = replies.case_status(result.application)
            if sender.lstrip("-").isdigit() and result.application.status not in FINAL_STATUSES:
                payload["subscribe"] = await shared.subscriptions.offer(
                    int(sender),
                    language_of(tracker, shared.settings.default_language),
                    result.application.access_token,
                    result.application.status,
                )
            dispatcher.utter_message(json_message=payload)
        elif isinstance(result, NotFound):
            await shared.lockout.record_failure(sender)
            log.info("status lookup: no match for the number and verification data")
            dispatcher.utter_message(json_message=replies.say("status_not_found"))
        elif isinstance(result, RateLimited):
            dispatcher.utter_message(json_message=replies.say("status_unavailable", offer_human=True))
        else:
            log.error("case API unavailable: %s", result.reason)
            dispatcher.utter_message(json_message=replies.say("status_unavailable", offer_human=True))
        return CLEARED


class ActionCancelStatus(Action):
    def name(self) -> str:
        return "action_cancel_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        await shared.vault.forget(tracker.sender_id)
        if tracker.latest_message.get("intent", {}).get("name") == "cancel":
            dispatcher.utter_message(json_message=replies.say("status_cancelled"))
        return CLEARED
