"""The gateway's input channel: Rasa's REST channel, plus the message metadata (the user's language), and only
for the gateway.

Rasa's built-in REST channel drops `metadata`; actions need it to answer in the user's language.
POST /webhooks/gateway/webhook  {"sender": "<chat id>", "message": "...", "metadata": {"language": "az"}}
with the gateway's signature (core/hop_auth.py): anyone else who can reach the engine could otherwise
speak as any chat. Unsigned, stale or forged messages get 401 and are counted in the log.

A message that asks two things is handled as two messages in order (engine/questions.py), the second marked
in its metadata (`second_half`), so the second is read in the light of the first's answer; the gateway gets
both replies in one response, as for any message. A message that follows a recent answer is also parsed with
that answer's subject (engine/context.py), the result handed to the actions in its metadata (`context`); when
that parse reads it as a question and its own parse did not ("neçəyədir?" after an answer), Rasa acts on the
question.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from core.hop_auth import HopGuard
from engine.context import CONTEXT, last_answer, marked, plainly_not_a_question, reads_as_question, to_metadata
from engine.questions import SECOND_HALF, Parsed, cuts, worth_splitting

log = logging.getLogger(__name__)


# The engine's agent, for parsing the halves of a message before it is handled (set per request).
_agent: contextvars.ContextVar[Any] = contextvars.ContextVar("agent", default=None)


Part = tuple[str, dict[str, Any]]  # a text to handle as a message, and its parse


async def two_questions(agent: Any, text: str, whole: dict[str, Any]) -> tuple[Part, Part] | None:
    """The message's two questions with their parses, if it asks two (see engine/questions.py), else None."""
    for first, second in cuts(text):
        parses = await agent.parse_message(first), await agent.parse_message(second)
        if worth_splitting(Parsed.of(whole), Parsed.of(parses[0]), Parsed.of(parses[1])):
            return (first, parses[0]), (second, parses[1])
    return None


async def subject_of_last_answer(agent: Any, sender_id: str, now: float | None = None) -> str | None:
    """The subject of the bot's last answer in this conversation, if that answer is recent and no form is
    running (a message inside a form answers the form's question: it is no follow-up)."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is not None and tracker.active_loop_name:
        return None
    events = reversed(tracker.events if tracker is not None else [])
    bot = ((e.timestamp, e.data) for e in events if isinstance(e, BotUttered))
    answer = last_answer(bot, time.time() if now is None else now)
    return answer.subject or None if answer else None


async def read_in_context(
    agent: Any, sender_id: str, text: str, parse: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the parse Rasa gets, the metadata's context) for a message: with a recent answer, the message is parsed
    again after that answer's subject marker; that parse goes to the actions in the metadata and, when it reads
    the message as a question its own parse did not (engine/context.py), its intent is the one Rasa acts on.
    Without a recent answer, for a button's payload and for a plain "thanks": the message's own parse. A failure
    to read the conversation only loses the context."""
    if not text or text.startswith("/") or plainly_not_a_question(Parsed.of(parse)):
        return parse, None
    try:
        subject = await subject_of_last_answer(agent, sender_id)
        if subject is None:
            return parse, None
        in_context = await agent.parse_message(marked(subject, text))
    except Exception:  # the tracker store down, a model being swapped: the message is still handled
        log.exception("could not read the message in its conversation's context")
        return parse, None
    if reads_as_question(Parsed.of(parse), Parsed.of(in_context)):
        parse = {**parse, "intent": in_context.get("intent"), "intent_ranking": in_context.get("intent_ranking")}
    return parse, to_metadata(subject, Parsed.of(in_context))


class GatewayInput(RestInput):
    # Set by engine/serve.py from the engine's environment before Rasa builds its channels; without it every
    # message is refused (an engine started some other way answers nobody rather than everybody).
    guard: HopGuard = HopGuard("gateway -> engine", None)

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def require_signatures(cls, guard: HopGuard) -> None:
        cls.guard = guard

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        async def handle(message: UserMessage) -> None:
            agent = _agent.get()
            if agent is None or not message.text:
                return await on_new_message(message)
            # Parsed here once and handed on (Rasa uses a message's parse_data rather than parsing it again).
            whole = await agent.parse_message(message.text)
            halves = await two_questions(agent, message.text, whole)
            if halves is not None:
                log.info("message asks two questions: handled as two")
            parts: list[tuple[Part, dict[str, Any]]] = (
                [((message.text, whole), {})] if halves is None else [(halves[0], {}), (halves[1], {SECOND_HALF: True})]
            )
            for (text, parse), extra in parts:
                # Read after the previous part was handled: the second question is read with the first's answer.
                parse, context = await read_in_context(agent, str(message.sender_id), text, parse)
                await on_new_message(
                    UserMessage(
                        text,
                        message.output_channel,
                        message.sender_id,
                        parse_data=parse,
                        input_channel=message.input_channel,
                        message_id=message.message_id if halves is None else None,
                        metadata={**(message.metadata or {}), **extra, **({CONTEXT: context} if context else {})},
                    )
                )
            return None

        blueprint = super().blueprint(handle)
        guard = self.guard

        @blueprint.middleware("request")
        async def authenticate(request: Request) -> HTTPResponse | None:
            if request.method == "GET":  # the channel's health check says nothing
                return None
            await request.receive_body()  # already read for Rasa's handler; a no-op then
            if guard.refusal(request.headers, request.body) is not None:
                return response.json({"error": "unauthenticated"}, status=401)
            _agent.set(getattr(request.app.ctx, "agent", None))
            return None

        return blueprint
