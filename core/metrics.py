"""Prometheus metrics of the gateway, served at GET /metrics on its webhook server (webhook mode); each
replica serves its own and Prometheus adds the instance. Labels are small fixed sets: never a chat id, a
text or anything personal."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

MESSAGES = Counter("assistant_messages_total", "Updates received from users, by kind", ["kind"])
REPLY_SECONDS = Histogram(
    "assistant_reply_seconds",
    "From a user's message to the assistant's answer being sent",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 20, 60),
)
FALLBACKS = Counter("assistant_fallbacks_total", "Messages the assistant did not understand", ["language"])
HANDOFFS = Counter("assistant_handoffs_total", "Chats handed to people, by reason", ["reason"])
ENGINE_ERRORS = Counter("assistant_engine_errors_total", "Engine calls that failed, by kind", ["kind"])
DUPLICATES = Counter("assistant_duplicate_updates_total", "Webhook deliveries of an update seen before")
REFUSED = Counter(
    "assistant_refused_requests_total", "Requests refused for missing or wrong credentials", ["endpoint", "reason"]
)
FLOOD_LIMITED = Counter("assistant_flood_limited_total", "Messages not answered because a chat sent too fast")
REPLIES = Counter(
    "assistant_replies_total",
    "Messages answered, by the conversation's language, what became of them (analytics/outcomes.py) and how "
    "they came (text or button): the Overview's counts, live",
    ["language", "outcome", "channel"],
)


async def metrics_response(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
