"""The gateway's input channel: Rasa's REST channel, plus the message metadata (the user's language), and only
for the gateway.

Rasa's built-in REST channel drops `metadata`; actions need it to answer in the user's language.
POST /webhooks/gateway/webhook  {"sender": "<chat id>", "message": "...", "metadata": {"language": "az"}}
with the gateway's signature (assistant/hop_auth.py): anyone else who can reach the engine could otherwise
speak as any chat. Unsigned, stale or forged messages get 401 and are counted in the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.hop_auth import HopGuard


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
        blueprint = super().blueprint(on_new_message)
        guard = self.guard

        @blueprint.middleware("request")
        async def authenticate(request: Request) -> HTTPResponse | None:
            if request.method == "GET":  # the channel's health check says nothing
                return None
            await request.receive_body()  # already read for Rasa's handler; a no-op then
            if guard.refusal(request.headers, request.body) is not None:
                return response.json({"error": "unauthenticated"}, status=401)
            return None

        return blueprint
