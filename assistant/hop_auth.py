"""Authenticated hops between our own processes: each request carries an HMAC of its body and a timestamp.

    X-Assistant-Timestamp: <unix seconds>
    X-Assistant-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

The gateway signs what it sends the engine, the engine what it sends the action server (one secret per hop,
`ASSISTANT_ENGINE_HOP_SECRET`, `ASSISTANT_ACTIONS_HOP_SECRET`). A request is accepted only with a valid
signature made within `WINDOW_S` of the receiver's clock; anything else is refused (401) and counted.
Metrics endpoints take a bearer token instead (Prometheus sends one, it cannot sign).

Standard library only and nothing from our settings: the engine (Rasa's Python 3.10) imports this as well as
the gateway and the action server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping

TIMESTAMP_HEADER = "X-Assistant-Timestamp"
SIGNATURE_HEADER = "X-Assistant-Signature"
SCHEME = "v1="
# The engine cannot build our settings (pydantic 2): the launcher hands it both secrets in these environment
# variables, and engine/serve.py takes them out of its environment at start.
ENGINE_SECRET_VARIABLE = "ENGINE_HOP_SECRET"  # checks the gateway's messages
ACTIONS_SECRET_VARIABLE = "ACTIONS_HOP_SECRET"  # signs the calls to the action server
# Clocks of one cluster agree to well within this; a captured request cannot be replayed after it.
WINDOW_S = 300.0

# Why a request was refused: a small fixed set (Prometheus labels).
MISSING, STALE, INVALID, UNCONFIGURED = "missing", "stale", "invalid", "unconfigured"

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate `body` (the exact bytes sent) for the next `WINDOW_S` seconds."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    window_s: float = WINDOW_S,
) -> str | None:
    """None when the request is authentic; otherwise why not. Without a secret nothing is authentic."""
    if not secret:
        return UNCONFIGURED
    timestamp, given = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not given:
        return MISSING
    if not timestamp.isdigit() or len(timestamp) > 12:
        return INVALID
    if abs((time.time() if now is None else now) - int(timestamp)) > window_s:
        return STALE
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, body).encode()):
        return INVALID
    return None


def check_bearer(token: str | None, authorization: str | None) -> str | None:
    """None when `Authorization: Bearer <token>` matches (constant time); otherwise why not."""
    if not token:
        return UNCONFIGURED
    if not authorization:
        return MISSING
    if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return INVALID
    return None


class Refusals:
    """Counts refused requests by reason and logs each one with the running total (no request content: a
    refused body may hold anything)."""

    def __init__(self, what: str, on_refusal: Callable[[str], None] | None = None) -> None:
        self.what = what
        self.counts: Counter[str] = Counter()
        self._on_refusal = on_refusal

    def count(self, reason: str) -> None:
        self.counts[reason] += 1
        if self._on_refusal is not None:
            self._on_refusal(reason)
        log.warning(
            "%s: unauthenticated request refused (%s); %d refused since start",
            self.what,
            reason,
            sum(self.counts.values()),
        )


class HopGuard:
    """The receiving end of one hop: `refusal()` checks a request, counts it if refused and says why."""

    def __init__(
        self,
        what: str,
        secret: str | None,
        *,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
        on_refusal: Callable[[str], None] | None = None,
    ) -> None:
        self.secret = secret or None
        self.window_s = window_s
        self.clock = clock
        self.refusals = Refusals(what, on_refusal)

    def refusal(self, headers: Mapping[str, str], body: bytes) -> str | None:
        reason = verify(self.secret, headers, body, self.clock(), self.window_s)
        if reason is not None:
            self.refusals.count(reason)
        return reason
