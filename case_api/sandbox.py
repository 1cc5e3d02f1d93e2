"""A sandbox of the migration service's case system, implementing `case_api/openapi.yaml`.

For development, demos and tests: seeded demo applications in every status, bearer-token authentication,
a per-token rate limit, and switches (`POST /_sandbox/...`) to make it slow or failing and to change a case's
status as an officer would; they want the admin token as a bearer token (`ASSISTANT_SANDBOX_ADMIN_TOKEN`, made
per run by the launcher), while the list of demo applications (`GET /_sandbox/applications`) stays open: it
is the fictitious data the README hands testers. Its data lives in its own SQLite file: it stands for another
organisation's system, not for our database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import JSON, Date, DateTime, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cases.numbers import normalize_application_number, normalize_personal_id
from core.api_headers import protect
from core.hop_auth import Refusals, check_bearer

STATUSES = (
    "received",
    "under_review",
    "documents_requested",
    "approved",
    "rejected",
    "ready_for_collection",
    "issued",
    "withdrawn",
)


class SandboxBase(DeclarativeBase):
    pass


class Application(SandboxBase):
    __tablename__ = "applications"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    service_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    personal_id: Mapped[str] = mapped_column(String(7))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decision_on: Mapped[dt.date | None] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    next_step: Mapped[str | None] = mapped_column(String(30))
    missing_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    office_code: Mapped[str] = mapped_column(String(20))
    office_name: Mapped[str] = mapped_column(String(200))


class AccessToken(SandboxBase):
    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(ForeignKey("applications.number"))


# Demo applicants are fictitious; testers use these to try every status.
DEMO = [
    ("TRP-2026-000101", "temporary_residence", "received", "5ZK2L9B", "1990-03-12", None, "wait", []),
    ("TRP-2026-000102", "temporary_residence", "under_review", "7QX4M2C", "1985-11-02", None, "wait", []),
    (
        "WRK-2026-000201",
        "work_permit",
        "documents_requested",
        "2HB8N5D",
        "1992-07-21",
        None,
        "submit_documents",
        ["medical_certificate", "photos"],
    ),
    ("PRP-2026-000301", "permanent_residence", "approved", "9TR3K7E", "1979-01-30", "2026-11-10", "pay_fee", []),
    ("CIT-2026-000401", "citizenship", "rejected", "4LW6P1F", "1988-05-05", "2026-10-28", "appeal_possible", []),
    (
        "TRP-2026-000103",
        "temporary_residence",
        "ready_for_collection",
        "3MS9V2G",
        "1995-09-15",
        "2026-11-18",
        "collect_card",
        [],
    ),
    ("REG-2026-000501", "registration", "issued", "8DC5X4H", "2001-12-24", "2026-11-20", "none", []),
    ("STX-2026-000601", "stay_extension", "withdrawn", "6PF2Z8J", "1993-04-08", None, "none", []),
    ("REF-2026-000701", "refugee_status", "under_review", "1KN7Y3L", "1987-08-19", None, "wait", []),
]


@dataclass
class Behaviour:
    """Switches for tests and demos."""

    latency_ms: int = 0
    fail_status: int | None = None  # answer this HTTP status instead of serving
    fail_count: int = 0  # how many requests fail (-1: all)
    rate_limit_per_minute: int = 120
    requests: int = 0  # served or refused, for tests
    refused_switches: int = 0  # switch requests without the admin token
    by_path: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seen: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))


@dataclass
class _Database:
    sessions: async_sessionmaker | None = None  # set once the app has started (make_app's cleanup context)

    def session(self) -> AsyncSession:
        if self.sessions is None:
            raise RuntimeError("the sandbox's database is not open: the app has not started")
        return self.sessions()


DATABASE: web.AppKey[_Database] = web.AppKey("database", _Database)
BEHAVIOUR: web.AppKey[Behaviour] = web.AppKey("behaviour", Behaviour)
TOKEN: web.AppKey[str] = web.AppKey("token", str)
ADMIN_TOKEN: web.AppKey[str | None] = web.AppKey("admin_token")
SWITCH_REFUSALS: web.AppKey[Refusals] = web.AppKey("switch_refusals", Refusals)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def _public(app: Application, access_token: str) -> dict[str, Any]:
    return {
        "application_number": app.number,
        "service_type": app.service_type,
        "status": app.status,
        "submitted_on": app.submitted_on.isoformat(),
        "updated_at": app.updated_at.isoformat(),
        "decision_on": app.decision_on.isoformat() if app.decision_on else None,
        "valid_until": app.valid_until.isoformat() if app.valid_until else None,
        "next_step": app.next_step,
        "missing_documents": list(app.missing_documents or []),
        "office": {"code": app.office_code, "name": app.office_name},
        "access_token": access_token,
    }


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    """Authentication, switches and rate limiting, in the order a real gateway applies them."""
    if request.path.startswith("/_sandbox/") and request.method != "GET":
        reason = check_bearer(request.app[ADMIN_TOKEN], request.headers.get("Authorization"))
        if reason is not None:
            request.app[BEHAVIOUR].refused_switches += 1
            request.app[SWITCH_REFUSALS].count(reason)
            return _error(401, "unauthorized", "The sandbox's switches want its admin token.")
        return await handler(request)
    if not request.path.startswith("/v1/") or request.path == "/v1/health":
        return await handler(request)
    behaviour = request.app[BEHAVIOUR]
    behaviour.requests += 1
    behaviour.by_path[request.path] += 1
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if behaviour.fail_status and behaviour.fail_count != 0:
        if behaviour.fail_count > 0:
            behaviour.fail_count -= 1
        return _error(behaviour.fail_status, "unavailable", "The case system is temporarily unavailable.")
    auth = request.headers.get("Authorization", "")
    if not secrets.compare_digest(auth, f"Bearer {request.app[TOKEN]}"):
        return _error(401, "unauthorized", "Missing or wrong bearer token.")
    window = behaviour.seen[auth]
    now = time.monotonic()
    while window and now - window[0] > 60:
        window.popleft()
    if len(window) >= behaviour.rate_limit_per_minute:
        retry = max(1, int(60 - (now - window[0])) + 1)
        return _error(429, "rate_limited", "Too many requests.", **{"Retry-After": str(retry)})
    window.append(now)
    return await handler(request)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "bad_request", "message": "The body must be JSON."}', content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "bad_request", "message": "The body must be an object."}', content_type="application/json"
        )
    return body


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def lookup(request: web.Request) -> web.Response:
    body = await _body(request)
    number = normalize_application_number(str(body.get("application_number", "")))
    personal_id = normalize_personal_id(str(body.get("personal_id") or "")) if body.get("personal_id") else None
    try:
        born = dt.date.fromisoformat(str(body["date_of_birth"])) if body.get("date_of_birth") else None
    except ValueError:
        return _error(400, "bad_request", "date_of_birth must be a date (YYYY-MM-DD).")
    if number is None or (born is None and personal_id is None):
        return _error(400, "bad_request", "Give the application number and a date of birth or personal id.")
    not_found = _error(404, "not_found", "No application matches this number and verification data.")
    async with request.app[DATABASE].session() as session, session.begin():
        application = await session.get(Application, number)
        if application is None:
            return not_found
        if born is not None and born != application.date_of_birth:
            return not_found
        if personal_id is not None and personal_id != application.personal_id:
            return not_found
        token = secrets.token_urlsafe(32)
        session.add(AccessToken(token_hash=_token_hash(token), number=number))
        return web.json_response(_public(application, token))


async def status_by_token(request: web.Request) -> web.Response:
    body = await _body(request)
    token = str(body.get("access_token") or "")
    if len(token) < 20:
        return _error(400, "bad_request", "access_token is missing.")
    async with request.app[DATABASE].session() as session:
        grant = await session.get(AccessToken, _token_hash(token))
        application = await session.get(Application, grant.number) if grant else None
        if application is None:
            return _error(404, "not_found", "No application matches this access token.")
        return web.json_response(_public(application, token))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


# --- switches for tests and demos (not part of the contract)


async def set_behaviour(request: web.Request) -> web.Response:
    behaviour = request.app[BEHAVIOUR]
    body = await _body(request)
    for name in ("latency_ms", "fail_status", "fail_count", "rate_limit_per_minute"):
        if name in body:
            setattr(behaviour, name, body[name])
    if body.get("reset_counters"):
        behaviour.requests = 0
        behaviour.by_path.clear()
        behaviour.seen.clear()
    return web.json_response(
        {
            "latency_ms": behaviour.latency_ms,
            "fail_status": behaviour.fail_status,
            "fail_count": behaviour.fail_count,
            "requests": behaviour.requests,
            "by_path": dict(behaviour.by_path),
            "rate_limit_per_minute": behaviour.rate_limit_per_minute,
            "refused_switches": behaviour.refused_switches,
        }
    )


async def set_status(request: web.Request) -> web.Response:
    """An officer's decision: changes a case's status (and next step, missing documents)."""
    body = await _body(request)
    number = normalize_application_number(request.match_info["number"])
    if body.get("status") not in STATUSES:
        return _error(400, "bad_request", f"status must be one of {', '.join(STATUSES)}")
    async with request.app[DATABASE].session() as session, session.begin():
        application = await session.get(Application, number or "")
        if application is None:
            return _error(404, "not_found", "No such application.")
        application.status = body["status"]
        application.next_step = body.get("next_step", application.next_step)
        application.missing_documents = body.get("missing_documents", application.missing_documents)
        application.updated_at = dt.datetime.now(dt.UTC)
        if body["status"] in ("approved", "rejected"):
            application.decision_on = dt.date.today()
    return web.json_response({"ok": True})


async def list_demo(request: web.Request) -> web.Response:
    async with request.app[DATABASE].session() as session:
        rows = (await session.scalars(select(Application).order_by(Application.number))).all()
    return web.json_response(
        [
            {
                "application_number": a.number,
                "status": a.status,
                "service_type": a.service_type,
                "date_of_birth": a.date_of_birth.isoformat(),
                "personal_id": a.personal_id,
            }
            for a in rows
        ]
    )


async def seed(sessions: async_sessionmaker) -> None:
    today = dt.date.today()
    async with sessions() as session, session.begin():
        if await session.scalar(select(Application.number).limit(1)) is not None:
            return
        for index, (number, service, status, fin, born, decided, step, missing) in enumerate(DEMO):
            session.add(
                Application(
                    number=number,
                    service_type=service,
                    status=status,
                    personal_id=fin,
                    date_of_birth=dt.date.fromisoformat(born),
                    submitted_on=today - dt.timedelta(days=30 + index),
                    updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=index),
                    decision_on=dt.date.fromisoformat(decided) if decided else None,
                    valid_until=today.replace(year=today.year + 1)
                    if status in ("issued", "ready_for_collection")
                    else None,
                    next_step=step,
                    missing_documents=missing,
                    office_code="BAKU-RMD",
                    office_name="Baku Regional Migration Department",
                )
            )


def make_app(database: Path, token: str, admin_token: str | None = None) -> web.Application:
    """`admin_token`: what the switches want as a bearer token; without one they refuse everyone."""
    app = protect(web.Application(middlewares=[guard]))
    app[TOKEN] = token
    app[ADMIN_TOKEN] = admin_token or None
    app[SWITCH_REFUSALS] = Refusals("case API sandbox switches")
    app[BEHAVIOUR] = Behaviour()
    holder = app[DATABASE] = _Database()

    async def resources(_: web.Application) -> AsyncIterator[None]:
        database.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        async with engine.begin() as connection:
            await connection.run_sync(SandboxBase.metadata.create_all)
        holder.sessions = async_sessionmaker(engine, expire_on_commit=False)
        await seed(holder.sessions)
        yield
        await engine.dispose()

    app.cleanup_ctx.append(resources)
    app.add_routes(
        [
            web.get("/v1/health", health),
            web.post("/v1/applications/lookup", lookup),
            web.post("/v1/applications/status", status_by_token),
            web.get("/_sandbox/applications", list_demo),
            web.post("/_sandbox/applications/{number}/status", set_status),
            web.post("/_sandbox/behaviour", set_behaviour),
        ]
    )
    return app


def main(argv: list[str] | None = None) -> None:
    from core.logs import configure_logging
    from core.settings import Settings

    settings = Settings()
    parser = argparse.ArgumentParser(description="Sandbox of the migration case API")
    parser.add_argument("--port", type=int, default=settings.case_api_port)
    args = parser.parse_args(argv)
    configure_logging("case-api-sandbox", settings.log_level)
    admin = settings.sandbox_admin_token
    web.run_app(
        make_app(
            settings.data_dir / "case_api_sandbox.db",
            settings.case_api_token.get_secret_value(),
            admin.get_secret_value() if admin else None,
        ),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
