"""The gateway's input channel: Rasa's REST channel, plus the message metadata (the user's language), and only
for the gateway.

Rasa's built-in REST channel drops `metadata`; actions need it to answer in the user's language.
POST /webhooks/gateway/webhook  {"sender": "<chat id>", "message": "...", "metadata": {"language": "az"}}
with the gateway's signature (assistant/hop_auth.py): anyone else who can reach the engine could otherwise
speak as any chat. Unsigned, stale or forged messages get 401 and are counted in the log.

A message that asks two things is handled as two messages in order (engine/questions.py), the second marked
in its metadata (`second_half`), so the second is read in the light of the first's answer; the gateway gets
both replies in one response, as for any message.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.hop_auth import HopGuard
from engine.questions import SECOND_HALF, Parsed, cuts, worth_splitting

log = logging.getLogger(__name__)

# The engine's agent, for parsing the halves of a message before it is handled (set per request).
_agent: contextvars.ContextVar[Any] = contextvars.ContextVar("agent", default=None)


async def two_questions(agent: Any, text: str) -> tuple[str, str] | None:
    """The message's two questions, if it asks two (see engine/questions.py), else None."""
    candidates = cuts(text)
    if not candidates or agent is None:
        return None
    whole = Parsed.of(await agent.parse_message(text))
    for first, second in candidates:
        halves = Parsed.of(await agent.parse_message(first)), Parsed.of(await agent.parse_message(second))
        if worth_splitting(whole, *halves):
            return first, second
    return None


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
            halves = await two_questions(_agent.get(), message.text) if message.text else None
            if halves is None:
                return await on_new_message(message)
            log.info("message asks two questions: handled as two")
            for text, extra in zip(halves, ({}, {SECOND_HALF: True}), strict=True):
                await on_new_message(
                    UserMessage(
                        text,
                        message.output_channel,
                        message.sender_id,
                        input_channel=message.input_channel,
                        metadata={**(message.metadata or {}), **extra},
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
