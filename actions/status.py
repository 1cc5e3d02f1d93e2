"""The application-status conversation: collect the number and verification data, look the case up safely.

Slots hold vault references only (actions/vault.py). Lookups are refused while the user, or the application
number, is paused after repeated failed verifications (cases/lockout.py); the form ends as soon as the number
is known to be paused. "Not found" and "wrong verification data" get the same answer. Whatever the outcome,
the verification data are forgotten after the lookup.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

from actions.resources import language_of, resources
from actions.utter import utter
from actions.vault import is_ref
from cases.client import Found, NotFound, RateLimited
from cases.lockout import Paused
from cases.numbers import normalize_application_number
from cases.subscriptions import FINAL_STATUSES
from cases.verification import parse_verification
from core import protocol

log = logging.getLogger(__name__)
_NUMBER_IN_TEXT = re.compile(r"[A-Za-zА-Яа-я]{3}[-\s]?\d{4}[-\s]?\d{6}")
CLEARED = [SlotSet("application_number", None), SlotSet("verification", None)]
# Served with the action server's metrics (actions/metrics.py): a rise in "application" means someone is
# guessing applicants' data from many chats.
LOOKUPS_PAUSED = Counter("assistant_status_lookups_paused_total", "Status lookups refused while paused", ["scope"])


def find_application_number(text: str) -> str | None:
    match = _NUMBER_IN_TEXT.search(text)
    return normalize_application_number(match.group()) if match else normalize_application_number(text)


class ValidateStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_status_form"

    async def validate_application_number(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        slots = await _into_vault(
            "application_number", slot_value, find_application_number, "status_number_invalid", dispatcher, tracker
        )
        shared = await resources()
        number = await shared.vault.get(tracker.sender_id, slots["application_number"])
        if number is not None and await shared.lockout.paused(tracker.sender_id, number) is not None:
            # No date of birth is asked for a lookup that would be refused: the form ends here, and
            # action_check_status (which runs when the form ends) says why.
            return {**slots, REQUESTED_SLOT: None}
        return slots

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
        utter(dispatcher, protocol.Say(invalid_key))
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
        if number is None:
            utter(dispatcher, protocol.Say("status_expired"))
            return CLEARED
        if verification is None:  # the form ended at the number because it is paused, or the data expired
            paused = await shared.lockout.paused(sender, number)
            utter(dispatcher, _refusal(paused) if paused else protocol.Say("status_expired"))
            return CLEARED
        # Checked (and the lookup registered) before the case API is asked, never after: a paused number is
        # not looked up even with the right date of birth, or guessing would go on and a right guess would
        # still be told (as a status instead of "not found").
        admitted = await shared.lockout.admit(sender, number)
        if isinstance(admitted, Paused):
            utter(dispatcher, _refusal(admitted))
            return CLEARED
        kind, value = verification.split(":", 1)
        result = await shared.cases.lookup(
            number,
            date_of_birth=dt.date.fromisoformat(value) if kind == "dob" else None,
            personal_id=value if kind == "fin" else None,
        )
        if isinstance(result, Found):
            log.info("status lookup succeeded (service %s)", result.application.service_type)
            status = result.application.message()
            if sender.lstrip("-").isdigit() and result.application.status not in FINAL_STATUSES:
                lookup = await shared.subscriptions.offer(
                    int(sender),
                    language_of(tracker, shared.settings.default_language),
                    result.application.access_token,
                    result.application.status,
                )
                status = dataclasses.replace(status, subscribe=lookup)
            utter(dispatcher, status)
        elif isinstance(result, NotFound):  # the admitted lookup stays registered: a failure for both
            log.info("status lookup: no match for the number and verification data")
            utter(dispatcher, protocol.Say("status_not_found"))
        elif isinstance(result, RateLimited):
            utter(dispatcher, protocol.Say("status_unavailable", offer_human=True))
        else:
            log.error("case API unavailable: %s", result.reason)
            utter(dispatcher, protocol.Say("status_unavailable", offer_human=True))
        if not isinstance(result, NotFound):
            await shared.lockout.withdraw(admitted)
        return CLEARED


def _refusal(paused: Paused) -> protocol.Say:
    """The user's own pause, or the application's: the latter says nothing of who made the failed attempts."""
    log.warning("status lookup refused: %s paused after failed verifications", paused.scope)
    LOOKUPS_PAUSED.labels(paused.scope).inc()
    key = "status_locked" if paused.scope == "user" else "status_application_paused"
    return protocol.Say(key, {"until": paused.until.isoformat()})


class ActionCancelStatus(Action):
    def name(self) -> str:
        return "action_cancel_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        shared = await resources()
        await shared.vault.forget(tracker.sender_id)
        if tracker.latest_message.get("intent", {}).get("name") == "cancel":
            utter(dispatcher, protocol.Say("status_cancelled"))
        return CLEARED
