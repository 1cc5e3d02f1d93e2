"""Contract tests: the client against the sandbox, every answer checked against case_api/openapi.yaml."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from aiohttp import ClientSession, web

from case_api.sandbox import make_app
from cases.client import (
    CASE_API_RESULTS,
    CaseApiClient,
    CircuitBreaker,
    Found,
    NotFound,
    RateLimited,
    Unavailable,
)
from cases.numbers import normalize_application_number, normalize_personal_id
from core.api_headers import API_HEADERS
from tests.conftest import free_port

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "case_api" / "openapi.yaml").read_text())
TOKEN = "test-case-api-token"
ADMIN = "test-sandbox-admin-token"


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: resolve local $refs, turn `nullable` into a null type."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _json_schema(SPEC["components"]["schemas"][name])
        converted = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable"):
            converted = {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


def conforms(body: dict, schema_name: str) -> None:
    jsonschema.validate(body, _json_schema(SPEC["components"]["schemas"][schema_name]))


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def sandbox(tmp_path) -> AsyncIterator[str]:
    async with serving(make_app(tmp_path / "sandbox.db", TOKEN, ADMIN)) as url:
        yield url


@pytest.fixture
async def client(sandbox) -> AsyncIterator[CaseApiClient]:
    api = CaseApiClient(
        sandbox, TOKEN, timeout_s=1.0, retries=2, backoff_s=0.01, breaker=CircuitBreaker(threshold=3, cool_down_s=0.5)
    )
    yield api
    await api.close()


async def behave(sandbox: str, **switches: Any) -> dict:
    async with (
        ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as session,
        session.post(f"{sandbox}/_sandbox/behaviour", json=switches) as r,
    ):
        return await r.json()


async def raw(sandbox: str, path: str, body: Any, token: str = TOKEN) -> tuple[int, dict, dict]:
    async with (
        ClientSession() as session,
        session.post(sandbox + path, json=body, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


async def test_found_by_birth_date_or_personal_id_and_conforming(sandbox, client):
    by_birth = await client.lookup("TRP-2026-000101", date_of_birth=dt.date(1990, 3, 12))
    by_fin = await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B")
    assert isinstance(by_birth, Found) and isinstance(by_fin, Found)
    assert by_birth.application.status == "received" and by_birth.application.service_type == "temporary_residence"
    status, body, _ = await raw(
        sandbox, "/v1/applications/lookup", {"application_number": "WRK-2026-000201", "personal_id": "2HB8N5D"}
    )
    assert status == 200
    conforms(body, "ApplicationStatus")
    assert body["missing_documents"] == ["medical_certificate", "photos"]


async def test_wrong_verification_and_unknown_number_are_the_same_answer(sandbox, client):
    before = CASE_API_RESULTS.labels("notfound")._value.get()
    assert isinstance(await client.lookup("TRP-2026-000101", date_of_birth=dt.date(1990, 3, 13)), NotFound)
    assert isinstance(await client.lookup("TRP-2026-999999", date_of_birth=dt.date(1990, 3, 12)), NotFound)
    wrong = await raw(
        sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-000101", "personal_id": "0000000"}
    )
    unknown = await raw(
        sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-999999", "personal_id": "0000000"}
    )
    assert wrong[0] == unknown[0] == 404 and wrong[1] == unknown[1]
    conforms(wrong[1], "Error")
    # Both verification fields, one wrong: no match either.
    assert isinstance(
        await client.lookup("TRP-2026-000101", date_of_birth=dt.date(1990, 3, 12), personal_id="0000000"), NotFound
    )
    assert CASE_API_RESULTS.labels("notfound")._value.get() == before + 3  # served at the action server's /metrics


async def test_access_token_reads_the_current_status(sandbox, client):
    found = await client.lookup("TRP-2026-000102", personal_id="7QX4M2C")
    async with ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as session:
        await session.post(
            f"{sandbox}/_sandbox/applications/TRP-2026-000102/status",
            json={"status": "approved", "next_step": "pay_fee"},
        )
    again = await client.status(found.application.access_token)
    assert isinstance(again, Found) and again.application.status == "approved"
    assert isinstance(await client.status("x" * 40), NotFound)


async def test_bad_token_malformed_request_and_health(sandbox):
    status, body, _ = await raw(
        sandbox,
        "/v1/applications/lookup",
        {"application_number": "TRP-2026-000101", "personal_id": "5ZK2L9B"},
        token="wrong",
    )
    assert status == 401
    conforms(body, "Error")
    status, body, _ = await raw(sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-000101"})
    assert status == 400
    conforms(body, "Error")
    async with ClientSession() as session, session.get(f"{sandbox}/v1/health") as response:
        assert response.status == 200 and (await response.json()) == {"status": "ok"}


async def test_misconfigured_token_is_unavailable_not_retried(sandbox):
    api = CaseApiClient(sandbox, "wrong", retries=3, backoff_s=0.01)
    try:
        await behave(sandbox, reset_counters=True)
        assert isinstance(await api.lookup("TRP-2026-000101", personal_id="5ZK2L9B"), Unavailable)
        assert (await behave(sandbox))["requests"] == 1
    finally:
        await api.close()


async def test_transient_failures_are_retried(sandbox, client):
    await behave(sandbox, fail_status=503, fail_count=2, reset_counters=True)
    result = await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B")
    assert isinstance(result, Found)
    assert (await behave(sandbox))["requests"] == 3


@pytest.mark.slow  # waits out timeouts and the breaker's pause
async def test_slow_api_times_out_and_the_breaker_opens_then_recovers(sandbox, client):
    import asyncio

    await behave(sandbox, latency_ms=1500, reset_counters=True)
    for _ in range(3):
        result = await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B")
        assert isinstance(result, Unavailable) and result.reason == "timeout"
    assert client.breaker.is_open
    before = (await behave(sandbox))["requests"]
    assert (await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B")) == Unavailable("circuit open")
    assert (await behave(sandbox))["requests"] == before  # an open breaker sends nothing
    await behave(sandbox, latency_ms=0)
    await asyncio.sleep(0.6)  # cool-down over: one trial goes through and closes the breaker
    assert isinstance(await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B"), Found)
    assert not client.breaker.is_open


async def test_rate_limit_is_reported_with_retry_after(sandbox, client):
    await behave(sandbox, rate_limit_per_minute=2, reset_counters=True)
    for _ in range(2):
        assert isinstance(await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B"), Found)
    limited = await client.lookup("TRP-2026-000101", personal_id="5ZK2L9B")
    assert isinstance(limited, RateLimited) and 1 <= limited.retry_after_s <= 61
    status, body, headers = await raw(
        sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-000101", "personal_id": "5ZK2L9B"}
    )
    assert status == 429 and int(headers["Retry-After"]) >= 1
    conforms(body, "Error")


async def test_every_demo_application_conforms(sandbox):
    async with ClientSession() as session, session.get(f"{sandbox}/_sandbox/applications") as response:
        demo = await response.json()
    assert {d["status"] for d in demo} >= {
        "received",
        "under_review",
        "documents_requested",
        "approved",
        "rejected",
        "ready_for_collection",
        "issued",
        "withdrawn",
    }
    for application in demo:
        status, body, _ = await raw(
            sandbox,
            "/v1/applications/lookup",
            {"application_number": application["application_number"], "date_of_birth": application["date_of_birth"]},
        )
        assert status == 200
        conforms(body, "ApplicationStatus")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("trp 2026 000101", "TRP-2026-000101"),
        ("TRP-2026-000101", "TRP-2026-000101"),
        ("Trp2026000101", "TRP-2026-000101"),
        ("ТRР-2026-000101", "TRP-2026-000101"),  # Cyrillic Т and Р
        ("TRP-2026-00010", None),
        ("hello", None),
    ],
)
def test_application_numbers_are_normalised(typed, canonical):
    assert normalize_application_number(typed) == canonical


def test_personal_ids_are_normalised():
    assert normalize_personal_id("5zk 2l9b") == "5ZK2L9B"
    assert normalize_personal_id("5ZK2L9") is None


async def test_the_sandbox_switches_want_the_admin_token(sandbox, client):
    """Before: anyone who reached the sandbox could fail it or decide a case."""
    decide = ("/_sandbox/applications/TRP-2026-000102/status", {"status": "rejected"})
    fail = ("/_sandbox/behaviour", {"fail_status": 503, "fail_count": -1})
    async with ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": f"Bearer {TOKEN}"}):
            for path, body in (decide, fail):
                async with session.post(sandbox + path, json=body, headers=headers) as response:
                    assert response.status == 401
                    conforms(await response.json(), "Error")
    found = await client.lookup("TRP-2026-000102", personal_id="7QX4M2C")
    assert isinstance(found, Found) and found.application.status == "under_review"  # nothing was switched
    assert (await behave(sandbox))["refused_switches"] == 6


async def test_sandbox_switches_refuse_everyone_without_an_admin_token(tmp_path):
    async with serving(make_app(tmp_path / "sandbox.db", TOKEN)) as url, ClientSession() as session:
        for authorization in ("Bearer ", "Bearer None", f"Bearer {TOKEN}"):
            async with session.post(
                f"{url}/_sandbox/behaviour", json={}, headers={"Authorization": authorization}
            ) as response:
                assert response.status == 401


async def test_every_answer_carries_the_api_headers_errors_too(sandbox):
    """Case data must not be cached or sniffed, whatever the status: found, refused, malformed, unknown path."""
    found = await raw(
        sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-000101", "personal_id": "5ZK2L9B"}
    )
    refused = await raw(sandbox, "/v1/applications/lookup", {}, token="wrong")
    malformed = await raw(sandbox, "/v1/applications/lookup", {"application_number": "TRP-2026-000101"})
    async with ClientSession() as session, session.get(f"{sandbox}/no/such/path") as response:
        missing: tuple[int, dict, dict] = (response.status, {}, dict(response.headers))
    assert [status for status, _, _ in (found, refused, malformed, missing)] == [200, 401, 400, 404]
    for _, _, headers in (found, refused, malformed, missing):
        assert {name: headers.get(name) for name in API_HEADERS} == API_HEADERS
