"""The message protocol between the engine (domain responses, actions) and the gateway.

The engine never sends user-facing text of its own; it sends one of these `custom` payloads and the gateway
renders it in the user's language (gettext for fixed texts, the knowledge base's fields for answers).
"""

from __future__ import annotations

from typing import Any

from knowledge.store import Answer


def say(key: str, *, offer_human: bool = False, **args: Any) -> dict[str, Any]:
    """A fixed text from the catalog, by key (see bot/texts.py), with format arguments; optionally with a
    "talk to a person" button."""
    payload: dict[str, Any] = {"type": "say", "key": key, "args": args}
    if offer_human:
        payload["offer_human"] = True
    return payload


def answer(found: Answer) -> dict[str, Any]:
    return {
        "type": "answer",
        "entry": found.key,
        "language": found.language,
        "question": found.question,
        "text": found.text,
        "source": found.legal_source,
        "source_url": found.source_url,
        "reviewed_on": found.reviewed_on.isoformat(),
        "review_state": found.review_state,
    }


def set_language(language: str) -> dict[str, Any]:
    return {"type": "set_language", "language": language}


def language_menu() -> dict[str, Any]:
    return {"type": "language_menu"}


def did_you_mean(options: list[dict[str, str]]) -> dict[str, Any]:
    """Up to three entries the question may have meant: [{"entry": key, "question": text}]."""
    return {"type": "did_you_mean", "options": options}
