"""Client of the migration case API (case_api/openapi.yaml): timeouts, bounded retries, a circuit breaker.

Every call returns one of four typed results and never raises for the API's own failures, so the
conversation can always tell the user something kind:
  Found          the application, for the verified applicant;
  NotFound       no match for the number and the verification data (the two are not told apart);
  RateLimited    the API asked us to slow down;
  Unavailable    down, slow, failing, misconfigured, or the breaker is open.
Lookups are reads, so retrying them after a transient failure is safe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from prometheus_client import Counter

from core import protocol
from core.settings import Settings

log = logging.getLogger(__name__)


# Served with the action server's metrics (actions/metrics.py): found, notfound, ratelimited, unavailable.
CASE_API_RESULTS = Counter("assistant_case_api_results_total", "Case API lookups by result (after retries)", ["result"])


@dataclass(frozen=True)
class ApplicationStatus:
    application_number: str
    service_type: str
    status: str
    submitted_on: dt.date
    updated_at: dt.datetime
    decision_on: dt.date | None
    valid_until: dt.date | None
    next_step: str | None
    missing_documents: tuple[str, ...]
    office_name: str
    access_token: str

    def message(self) -> protocol.CaseStatus:
        """The status as the gateway receives it: codes and dates, never the access token."""

        def day(value: dt.date | None) -> str | None:
            return value.isoformat() if value else None

        return protocol.CaseStatus(
            application_number=self.application_number,
            service_type=self.service_type,
            status=self.status,
            submitted_on=day(self.submitted_on),
            updated_on=day(self.updated_at.date()),
            decision_on=day(self.decision_on),
            valid_until=day(self.valid_until),
            next_step=self.next_step,
            missing_documents=self.missing_documents,
            office=self.office_name,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApplicationStatus:
        def day(value: Any) -> dt.date | None:
            return dt.date.fromisoformat(value) if value else None

        return cls(
            application_number=str(data["application_number"]),
            service_type=str(data["service_type"]),
            status=str(data["status"]),
            submitted_on=dt.date.fromisoformat(data["submitted_on"]),
            updated_at=dt.datetime.fromisoformat(data["updated_at"]),
            decision_on=day(data.get("decision_on")),
            valid_until=day(data.get("valid_until")),
            next_step=data.get("next_step"),
            missing_documents=tuple(data.get("missing_documents") or ()),
            office_name=str((data.get("office") or {}).get("name", "")),
            access_token=str(data["access_token"]),
        )


@dataclass(frozen=True)
class Found:
    application: ApplicationStatus


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class RateLimited:
    retry_after_s: int


@dataclass(frozen=True)
class Unavailable:
    reason: str


Result = Found | NotFound | RateLimited | Unavailable


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; while open, calls fail at once; after `cool_down_s` one
    trial call is let through (half-open) and its outcome closes or re-opens the breaker."""

    def __init__(self, threshold: int = 5, cool_down_s: float = 30.0) -> None:
        self.threshold, self.cool_down_s = threshold, cool_down_s
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.cool_down_s and not self._trial_running:
            self._trial_running = True  # half-open: exactly one trial
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self._trial_running = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.failures >= self.threshold or self.opened_at is not None:
            if self.opened_at is None:
                log.error("case API circuit opened after %d consecutive failures", self.failures)
            self.opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


class CaseApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        breaker: CircuitBreaker | None = None,
        session: ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self.timeout = ClientTimeout(total=timeout_s)
        self.retries, self.backoff_s = retries, backoff_s
        self.breaker = breaker or CircuitBreaker()
        self._session = session
        self._own_session = session is None

    @classmethod
    def from_settings(cls, settings: Settings) -> CaseApiClient:
        return cls(
            settings.case_api_url,
            settings.case_api_token.get_secret_value(),
            timeout_s=settings.case_api_timeout_s,
            retries=settings.case_api_retries,
        )

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def lookup(
        self, application_number: str, *, date_of_birth: dt.date | None = None, personal_id: str | None = None
    ) -> Result:
        body: dict[str, Any] = {"application_number": application_number}
        if date_of_birth is not None:
            body["date_of_birth"] = date_of_birth.isoformat()
        if personal_id is not None:
            body["personal_id"] = personal_id
        return await self._call("/v1/applications/lookup", body)

    async def status(self, access_token: str) -> Result:
        return await self._call("/v1/applications/status", {"access_token": access_token})

    async def _call(self, path: str, body: dict[str, Any]) -> Result:
        result = await self._attempts(path, body)
        CASE_API_RESULTS.labels(type(result).__name__.lower()).inc()
        return result

    async def _attempts(self, path: str, body: dict[str, Any]) -> Result:
        if not self.breaker.allow():
            return Unavailable("circuit open")
        if self._session is None:
            self._session = ClientSession()
        reason = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                # Exponential backoff with jitter, so many clients do not retry in lockstep.
                await asyncio.sleep(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
            try:
                async with self._session.post(
                    self.base_url + path, json=body, headers=self._headers, timeout=self.timeout
                ) as response:
                    if response.status == 200:
                        result = Found(ApplicationStatus.from_json(await response.json()))
                        self.breaker.success()
                        return result
                    if response.status == 404:
                        self.breaker.success()
                        return NotFound()
                    if response.status == 429:
                        self.breaker.success()  # the service is healthy, only busy
                        retry_after = response.headers.get("Retry-After", "5")
                        return RateLimited(int(retry_after) if retry_after.isdigit() else 5)
                    if response.status in (400, 401, 403):
                        # Our request or our credentials are wrong: retrying cannot help.
                        log.error("case API refused the request: HTTP %s", response.status)
                        self.breaker.failure()
                        return Unavailable(f"HTTP {response.status}")
                    reason = f"HTTP {response.status}"
            except TimeoutError:
                reason = "timeout"
            except ClientError as error:
                reason = type(error).__name__
            except (KeyError, ValueError, TypeError) as error:
                reason = f"malformed answer: {type(error).__name__}"
            log.warning("case API attempt %d failed: %s", attempt + 1, reason)
        self.breaker.failure()
        return Unavailable(reason)
