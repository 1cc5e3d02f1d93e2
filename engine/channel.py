"""The gateway's input channel: Rasa's REST channel, plus the message metadata (the user's language).

Rasa's built-in REST channel drops `metadata`; actions need it to answer in the user's language.
POST /webhooks/gateway/webhook  {"sender": "<chat id>", "message": "...", "metadata": {"language": "az"}}
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.request import Request


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "gateway"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None
