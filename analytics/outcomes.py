"""What became of a message, as the Overview counts it. The order is the stacked chart's, bottom up."""

from __future__ import annotations

# name: what staff read on the Overview
OUTCOMES: dict[str, str] = {
    "answered": "Answered from an entry",
    "did_you_mean": "Offered “did you mean”",
    "clarify": "Asked which subject",
    "not_understood": "Not understood",
    "out_of_scope": "Out of scope (declined)",
    "handed_over": "Handed over to people",
    "with_people": "Relayed to people",
    "status_found": "Status found",
    "status_not_found": "Status not found",
    "status_locked": "Status lookup locked out",
    "status_unavailable": "Status lookup unavailable",
    "engine_down": "Could not answer (assistant down)",
    "other": "Other (greeting, menu, form step)",
}
# Which of a reply's outcomes names it when it has several (an answer followed by "anything else?" is an
# answer; a hand-over after "I did not understand" is a hand-over).
PRECEDENCE = (
    "handed_over",
    "status_found",
    "status_not_found",
    "status_locked",
    "status_unavailable",
    "answered",
    "did_you_mean",
    "clarify",
    "out_of_scope",
    "not_understood",
    "other",
)
# The gateway's catalog texts (core/protocol.Say keys) that tell an outcome; any other text is "other".
SAY_OUTCOMES: dict[str, str] = {
    "no_answer": "not_understood",
    "not_understood": "not_understood",
    "out_of_scope": "out_of_scope",
    "status_not_found": "status_not_found",
    "status_locked": "status_locked",
    "status_application_paused": "status_locked",
    "status_unavailable": "status_unavailable",
}
CHANNELS = ("text", "button")


def stronger(current: str | None, new: str) -> str:
    """The outcome of a reply that has `current` so far and now shows `new`."""
    if current is None:
        return new
    return current if PRECEDENCE.index(current) <= PRECEDENCE.index(new) else new
