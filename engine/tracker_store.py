"""Rasa's SQL tracker store, storing conversations with personal data redacted.

Users type FINs, passport and application numbers, birth dates and names. The engine needs the raw text to
understand the message, but the stored conversation does not: each event is redacted (core.privacy)
as it is written. Policies work on intents, entities' presence and slots, so the dialogue is unaffected.
Slots named in SENSITIVE_SLOTS are stored as "[redacted]"; keep such values out of slots that must survive
between turns (hold a reference instead).
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from core.privacy import redact

SENSITIVE_SLOTS = frozenset({"application_number", "verification"})
SENSITIVE_ENTITIES = frozenset({"application_number", "personal_id", "date_of_birth"})


def _redact_all(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_all(item) for item in value]
    return value


def redact_event(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("event") == "bot" and isinstance(data.get("data"), dict):
        data["data"] = _redact_all(data["data"])  # e.g. an application status with its number
    if isinstance(data.get("text"), str):
        data["text"] = redact(data["text"])
    parse = data.get("parse_data")
    if isinstance(parse, dict):
        if isinstance(parse.get("text"), str):
            parse["text"] = redact(parse["text"])
        for entity in parse.get("entities") or []:
            if entity.get("entity") in SENSITIVE_ENTITIES:
                entity["value"] = "[redacted]"
            elif isinstance(entity.get("value"), str):
                entity["value"] = redact(entity["value"])
    value = data.get("value")
    reference = isinstance(value, str) and value.startswith("ref:")  # vault references are not personal data
    if data.get("event") == "slot" and data.get("name") in SENSITIVE_SLOTS and value is not None and not reference:
        data["value"] = "[redacted]"
    return data


class RedactingSQLTrackerStore(SQLTrackerStore):
    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = redact_event(event.as_dict())
                intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
