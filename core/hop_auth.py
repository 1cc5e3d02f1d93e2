"""Authenticated hops between our own processes: each request carries an HMAC of its body and a timestamp.

    X-Assistant-Timestamp: <unix seconds>
    X-Assistant-Nonce: <random hex, new for every request>
    X-Assistant-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>.<nonce>." + body)>

The gateway signs what it sends the engine, the engine what it sends the action server (one secret per hop,
`ASSISTANT_ENGINE_HOP_SECRET`, `ASSISTANT_ACTIONS_HOP_SECRET`). A request is accepted only with a valid
signature made within `WINDOW_S` of the receiver's clock, and only once: each receiving process remembers
the signatures it accepted within the window (the nonce makes two identical messages sign differently), so a
captured request cannot be replayed to it. Several replicas behind a balancer remember each their own: a
request replayed to another replica within the window still gets in (docs/operations.md). Anything else is
refused (401) and counted.
Metrics endpoints take a bearer token instead (Prometheus sends one, it cannot sign).

Standard library only and nothing from our settings: the engine (Rasa's Python 3.10) imports this as well as
the gateway and the action server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping

TIMESTAMP_HEADER = "X-Assistant-Timestamp"
NONCE_HEADER = "X-Assistant-Nonce"
SIGNATURE_HEADER = "X-Assistant-Signature"
SCHEME = "v1="
# The engine cannot build our settings (pydantic 2): the launcher hands it both secrets in these environment
# variables, and engine/serve.py takes them out of its environment at start.
ENGINE_SECRET_VARIABLE = "ENGINE_HOP_SECRET"  # checks the gateway's messages
ACTIONS_SECRET_VARIABLE = "ACTIONS_HOP_SECRET"  # signs the calls to the action server
# Clocks of one cluster agree to well within this; a captured request cannot be replayed after it.
WINDOW_S = 300.0
# Signatures a receiver remembers (about 100 bytes each): far more than the hops carry in a window. Past it the
# oldest are forgotten first, so a flood of valid requests could only reopen replays of its own oldest ones.
REMEMBERED_SIGNATURES = 100_000
# Refusals are logged once, then summed up in at most one line per this many seconds (anyone who reaches a
# port could otherwise fill the logs); the counters stay exact.
REFUSAL_LOG_INTERVAL_S = 60.0

# Why a request was refused: a small fixed set (Prometheus labels).
MISSING, STALE, INVALID, UNCONFIGURED, REPLAYED = "missing", "stale", "invalid", "unconfigured", "replayed"

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate `body` (the exact bytes sent) once, within the next `WINDOW_S` seconds."""
    timestamp, nonce = str(int(time.time() if now is None else now)), secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, body),
    }


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
    timestamp, nonce = headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER)
    given = headers.get(SIGNATURE_HEADER)
    if not timestamp or not nonce or not given:
        return MISSING
    if not timestamp.isdigit() or len(timestamp) > 12 or len(nonce) > 64:
        return INVALID
    if abs((time.time() if now is None else now) - int(timestamp)) > window_s:
        return STALE
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, nonce, body).encode()):
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
    """Counts refused requests by reason. The log gets the first one, then at most one line per
    `log_interval_s` summing up those since the last line (written when the next refusal comes): a flood of
    requests cannot flood the log. No request content: a refused body may hold anything."""

    def __init__(
        self,
        what: str,
        on_refusal: Callable[[str], None] | None = None,
        *,
        log_interval_s: float = REFUSAL_LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.counts: Counter[str] = Counter()
        self._on_refusal = on_refusal
        self._log_interval_s, self._clock = log_interval_s, clock
        self._unlogged: Counter[str] = Counter()
        self._logged_at: float | None = None

    def count(self, reason: str) -> None:
        self.counts[reason] += 1
        if self._on_refusal is not None:
            self._on_refusal(reason)
        self._unlogged[reason] += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._log_interval_s:
            return
        total = sum(self.counts.values())
        if self._logged_at is None:
            log.warning("%s: unauthenticated request refused (%s); %d refused since start", self.what, reason, total)
        else:
            log.warning(
                "%s: %d unauthenticated requests refused in the last %.0f s (%s); %d refused since start",
                self.what,
                sum(self._unlogged.values()),
                now - self._logged_at,
                ", ".join(f"{why}: {n}" for why, n in sorted(self._unlogged.items())),
                total,
            )
        self._unlogged.clear()
        self._logged_at = now


class HopGuard:
    """The receiving end of one hop: `refusal()` checks a request, counts it if refused and says why. It
    remembers the signatures it accepted until they are stale anyway, and refuses them a second time."""

    def __init__(
        self,
        what: str,
        secret: str | None,
        *,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
        on_refusal: Callable[[str], None] | None = None,
        remembered: int = REMEMBERED_SIGNATURES,
    ) -> None:
        self.secret = secret or None
        self.window_s = window_s
        self.clock = clock
        self.refusals = Refusals(what, on_refusal)
        self._remembered = remembered
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it turns stale, oldest first

    def refusal(self, headers: Mapping[str, str], body: bytes) -> str | None:
        now = self.clock()
        reason = verify(self.secret, headers, body, now, self.window_s)
        if reason is None:
            reason = self._first_use(headers[SIGNATURE_HEADER], int(headers[TIMESTAMP_HEADER]), now)
        if reason is not None:
            self.refusals.count(reason)
        return reason

    def _first_use(self, given: str, timestamp: int, now: float) -> str | None:
        while self._seen and (len(self._seen) >= self._remembered or next(iter(self._seen.values())) < now):
            self._seen.popitem(last=False)
        if given in self._seen:
            return REPLAYED
        self._seen[given] = timestamp + self.window_s
        return None
