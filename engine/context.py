"""A message read with the conversation's subject: "and how much is it?" after an answer about work permits.

The words of a follow-up leave the subject out, so the classifier alone spreads it over every subject's cost
entry, leaning to whichever its training words resemble. The model is also trained on each entry's follow-up
questions prefixed with a marker word for the entry's subject (knowledge/training_data.py), and on some of
its full questions prefixed with another subject's marker, so that a message naming its own subject keeps it.
When the conversation has a recent answer, the engine's channel parses the message a second time with that
answer's subject marker and hands the result to the actions in the message's metadata (`CONTEXT`); they read
the two parses together (`with_context`). Standard library only: this runs in both environments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core import protocol
from engine.questions import QUESTION_INTENTS, Parsed

CONTEXT = "context"  # the message metadata key: {"subject": ..., "intent": ..., "faq": ..., "entries": [...]}
# A conversation older than this is no longer one: the next question is read on its own.
CONTEXT_MAX_AGE_S = 30 * 60
MAX_ENTRIES = 25  # kept in the metadata (it is stored with the conversation): the rest weigh nothing
# The parse after the marker is trained on every intent, not only on questions (knowledge/training_data.py), so in
# a conversation it says better than the message alone whether the message asks something: "neçəyədir?" and
# "and if they say no?" read alone as out of scope or "no". Its reading as a knowledge-base question counts from
# this share of the intents.
QUESTION_IN_CONTEXT = 0.5
SURE_OF_OTHER = 0.9  # a greeting, thanks… this sure is not read again in the conversation's context
# Requests with flows of their own are never read as a question instead, however unsure: asking for a person or
# for the application's status. (A language is not among them: "919 rusca da cavab verir?" asks whether the call
# centre speaks Russian, and is answered so.)
OWN_FLOWS = frozenset({"human_handoff", "check_status"})


def last_answer(bot_events: Iterable[tuple[float, Any]], now: float) -> protocol.Answer | None:
    """The bot's last answer, from its utterances (timestamp, data) latest first, if it is recent: what both the
    engine's channel and the actions read the conversation by."""
    for timestamp, data in bot_events:
        if now - float(timestamp or 0.0) > CONTEXT_MAX_AGE_S:
            return None
        try:
            message = protocol.decode((data or {}).get("custom"))
        except protocol.Malformed:
            continue
        if isinstance(message, protocol.Answer):
            return message
    return None


def marker(subject: str) -> str:
    """The word that stands for a subject in the model's input: letters only, so no tokenizer splits it."""
    return "ctx" + "".join(c for c in subject.lower() if c.isalnum())


def marked(subject: str, text: str) -> str:
    return f"{marker(subject)} {' '.join(text.split())}"


def to_metadata(subject: str, parsed: Parsed) -> dict[str, Any]:
    return {
        "subject": subject,
        "intent": parsed.intent,
        "faq": round(parsed.faq_share, 4),
        "entries": [[key, round(p, 4)] for key, p in parsed.entries[:MAX_ENTRIES]],
    }


def from_metadata(metadata: Mapping[str, Any] | None) -> tuple[str, Parsed] | None:
    """(subject, parse) from a message's metadata, or None when there is none or it is malformed."""
    value = (metadata or {}).get(CONTEXT)
    if not isinstance(value, Mapping) or not isinstance(value.get("subject"), str):
        return None
    try:
        entries = tuple((str(k), float(p)) for k, p in value.get("entries") or [])
        return value["subject"], Parsed(str(value.get("intent") or ""), float(value.get("faq") or 0.0), entries)
    except (TypeError, ValueError):
        return None


def plainly_not_a_question(parse: Parsed) -> bool:
    """A confident greeting, thanks or the like: the conversation would not change it, so it is not parsed again."""
    return parse.intent not in QUESTION_INTENTS and parse.confidence >= SURE_OF_OTHER


def reads_as_question(plain: Parsed, in_context: Parsed) -> bool:
    """Whether the conversation makes a knowledge-base question of a message its own parse read otherwise. The
    other way round never: a question stays a question; nor is a request with a flow of its own (`OWN_FLOWS`)."""
    return (
        plain.intent != "faq"
        and plain.intent not in OWN_FLOWS
        and in_context.intent == "faq"
        and in_context.faq_share >= QUESTION_IN_CONTEXT
    )


def with_context(plain: Parsed, in_context: Parsed, mix: float) -> Parsed:
    """One reading of a message from its parse alone and its parse with the subject marker: the entries'
    probabilities mixed (`mix` of the plain one); the intent and the knowledge base's share are the plain
    parse's unless the marked one reads a question where the plain one did not (`reads_as_question`)."""
    alone, marked_ = dict(plain.entries), dict(in_context.entries)
    scores = {k: mix * alone.get(k, 0.0) + (1.0 - mix) * marked_.get(k, 0.0) for k in alone.keys() | marked_.keys()}
    entries = tuple(sorted(scores.items(), key=lambda item: item[1], reverse=True))
    reading = in_context if reads_as_question(plain, in_context) else plain
    return Parsed(reading.intent, reading.faq_share, entries)
