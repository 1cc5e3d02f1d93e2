"""The message protocol between the engine (domain responses, actions) and the gateway.

The engine never sends user-facing text of its own; it sends one of these `custom` payloads and the gateway
renders it in the user's language (gettext for fixed texts, the knowledge base's fields for answers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from knowledge.store import Answer

if TYPE_CHECKING:
    from actions.case_client import ApplicationStatus


def say(key: str, *, offer_human: bool = False, **args: Any) -> dict[str, Any]:
    """A fixed text from the catalog, by key (see bot/texts.py), with format arguments; optionally with a
    "talk to a person" button."""
    payload: dict[str, Any] = {"type": "say", "key": key, "args": args}
    if offer_human:
        payload["offer_human"] = True
    return payload


def answer(found: Answer, related: list[tuple[str, str]] | None = None, subject: str | None = None) -> dict[str, Any]:
    """An entry's answer; `related`: (key, question) of up to three entries to offer next, as buttons; `subject`:
    what the conversation is about now (the engine reads the next message with it, engine/context.py)."""
    return {
        "type": "answer",
        "entry": found.key,
        "subject": subject,
        "language": found.language,
        "question": found.question,
        "text": found.text,
        "source": found.legal_source,
        "source_url": found.source_url,
        "reviewed_on": found.reviewed_on.isoformat(),
        "review_state": found.review_state,
        "related": [{"entry": key, "question": question} for key, question in related or []],
    }


def handoff(reason: str) -> dict[str, Any]:
    """Hands the chat to people; the gateway opens the ticket and its staff topic (reason: see handoff.models)."""
    return {"type": "handoff", "reason": reason}


def set_language(language: str) -> dict[str, Any]:
    return {"type": "set_language", "language": language}


def language_menu() -> dict[str, Any]:
    return {"type": "language_menu"}


def did_you_mean(options: list[dict[str, str]]) -> dict[str, Any]:
    """Up to three entries the question may have meant: [{"entry": key, "question": text}]."""
    return {"type": "did_you_mean", "options": options}


def clarify(aspect: str, options: list[dict[str, str]]) -> dict[str, Any]:
    """A question that fits several subjects' entries ("how long does it take?"): which one is meant.
    options: [{"entry": key, "subject": topic, "question": text}], the likeliest first."""
    return {"type": "clarify", "aspect": aspect, "options": options}


def case_status(application: ApplicationStatus) -> dict[str, Any]:
    """An application's status, as codes and dates the gateway renders in the user's language. The case
    API's access token is deliberately left out: it never leaves the action server."""

    def day(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "type": "case_status",
        "application_number": application.application_number,
        "service_type": application.service_type,
        "status": application.status,
        "submitted_on": day(application.submitted_on),
        "updated_on": day(application.updated_at.date()),
        "decision_on": day(application.decision_on),
        "valid_until": day(application.valid_until),
        "next_step": application.next_step,
        "missing_documents": list(application.missing_documents),
        "office": application.office_name,
    }
