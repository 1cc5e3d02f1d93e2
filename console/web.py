"""The staff console: aiohttp, server-rendered pages (Jinja2, autoescaped), no JavaScript.

Security: every page but /login needs a session (HttpOnly, SameSite=Strict cookie; only its hash is
stored); every POST carries the session's CSRF token; every response, errors and redirects included, forbids
framing and scripts, is not cached, and over HTTPS carries HSTS. Roles are enforced by the services
(knowledge.curation) as well as here. Behind a reverse proxy, only the proxies named in
`console_trusted_proxies` are believed about the client's address and scheme (X-Forwarded-For/-Proto).

This module is the base: the services, rendering, the middlewares, login and logout. The pages live in their
own modules (entries, unanswered, training_page, tickets, accounts, lockouts, upkeep), each with a `ROUTES`
list that console/app.py adds to the app `make_app` builds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from analytics.report import Reports
from cases.lockout import Lockout
from console.auth import Login, LoginRefused, StaffAuth, ip_of
from core.db import as_utc
from core.i18n import BAKU
from core.settings import LANGUAGES, Settings
from handoff.service import Handoff
from knowledge.curation import Actor, Curation
from knowledge.models import ASPECTS, REVIEW_STATES, TOPICS
from knowledge.schema import EntryData
from knowledge.store import KnowledgeBase
from knowledge.unanswered import UnansweredLog
from knowledge.upkeep import Upkeep
from training.model_store import ModelStore
from training.retraining import Retrainer

COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "login_csrf"
HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


@dataclass
class Console:
    settings: Settings
    auth: StaffAuth
    curation: Curation
    kb: KnowledgeBase
    retrainer: Retrainer
    unanswered: UnansweredLog
    tickets: Handoff
    lockout: Lockout  # paused status lookups (console/lockouts.py)
    upkeep: Upkeep  # facts to re-check, translations to check (console/upkeep.py)
    models: ModelStore  # trained models and the pointer the engines follow (console/model_server.py)
    reports: Reports  # the Overview's figures (console/overview.py)


@dataclass(frozen=True)
class Client:
    """Who is on the other end: the connection's own address and scheme, or what a trusted proxy says."""

    address: str
    https: bool


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class _Holder:
    console: Console | None = None
    told_of_proxy: bool = False  # the untrusted-proxy error is logged once per process


STATE: web.AppKey[_Holder] = web.AppKey("state", _Holder)
LOGIN: web.RequestKey[Login] = web.RequestKey("login", Login)
FORM: web.RequestKey[Any] = web.RequestKey("form", object)
LOGIN_CSRF: web.RequestKey[str] = web.RequestKey("login_csrf", str)
TEMPLATES: web.AppKey[Environment] = web.AppKey("templates", Environment)
FLASHES: web.AppKey[dict[str, str]] = web.AppKey("flashes", dict)
PROXIES: web.AppKey[list[Network]] = web.AppKey("proxies", list)
CLIENT: web.RequestKey[Client] = web.RequestKey("client", Client)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _console(request: web.Request) -> Console:
    console = request.app[STATE].console
    if console is None:
        raise web.HTTPServiceUnavailable(text="The console is starting.")
    return console


def _login(request: web.Request) -> Login:
    return request[LOGIN]


def _actor(request: web.Request) -> Actor:
    return _login(request).actor


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    login = request.get(LOGIN)
    flash = request.app[FLASHES].pop(request.query.get("flash", ""), None)
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            actor=login.actor if login else None,
            csrf=login.csrf_token if login else request.get(LOGIN_CSRF),
            flash=flash,
            languages=LANGUAGES,
            topics=TOPICS,
            aspects=ASPECTS,
            review_states=REVIEW_STATES,
            facts_as_lines=facts_as_lines,
            **context,
        )
    )
    return web.Response(text=html, content_type="text/html", status=status)


def redirect(request: web.Request, location: str, message: str | None = None) -> web.HTTPSeeOther:
    if message:
        token = secrets.token_urlsafe(8)
        flashes = request.app[FLASHES]
        if len(flashes) > 1000:
            flashes.clear()
        flashes[token] = message
        location += ("&" if "?" in location else "?") + f"flash={token}"
    return web.HTTPSeeOther(location)


def facts_as_lines(data: EntryData | None) -> str:
    """An entry's dated facts as the form shows them: "confirmed on | kind | fact", one per line."""
    return "" if data is None else "\n".join(f"{f.confirmed_on} | {f.kind} | {f.fact}" for f in data.dated_facts)


def baku_time(moment: dt.datetime | None) -> str:
    return moment.astimezone(BAKU).strftime("%Y-%m-%d %H:%M") if moment else ""


# ------------------------------------------------------------------ middlewares


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"


def _trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    ip = ip_of(address) if address is not None else None
    return ip is not None and any(ip in net for net in proxies)


def _untrusted_proxy(request: web.Request, address: str) -> None:
    """X-Forwarded-For from a peer that is not trusted: a client's own claim, or a proxy nobody named. In the
    second case every client looks like that proxy, and ten wrong logins by anyone pause everyone's: say so
    loudly, once."""
    holder = request.app[STATE]
    if holder.told_of_proxy or "X-Forwarded-For" not in request.headers:
        return
    holder.told_of_proxy = True
    log.error(
        "a request came from %s with X-Forwarded-For, but that address is not in "
        "ASSISTANT_CONSOLE_TRUSTED_PROXIES: if it is your reverse proxy, add it (docs/operations.md, "
        "'Staff logins'), or every client counts as the proxy's one address for login throttling",
        address,
    )


def client_of(request: web.Request) -> Client:
    """The client's address and scheme. X-Forwarded-For is read right to left, skipping trusted proxies: the
    first address a trusted proxy did not add is the client (anything further left the client wrote itself)."""
    known = request.get(CLIENT)
    if known is not None:
        return known
    proxies = request.app[PROXIES]
    address, https = request.remote or "unknown", request.secure
    if _trusted(address, proxies):
        hops = [hop.strip() for line in request.headers.getall("X-Forwarded-For", []) for hop in line.split(",")]
        for hop in reversed([hop for hop in hops if hop]):
            address = hop
            if not _trusted(hop, proxies):
                break
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        https = proto == "https" if proto else https
    else:
        _untrusted_proxy(request, address)
    return Client(address, https)


@web.middleware
async def client_address(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[CLIENT] = client_of(request)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, including errors raised anywhere and aiohttp's own 404/405/500."""
    response.headers.update(SECURITY_HEADERS)
    if client_of(request).https:
        response.headers["Strict-Transport-Security"] = HSTS


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    # The model server authenticates engines by their own bearer token (console/model_server.py).
    if request.path in ("/login", "/health", "/engine/model") or request.path.startswith("/static/"):
        return await handler(request)
    login = await _console(request).auth.session(request.cookies.get(COOKIE))
    if login is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(f"/login?next={request.path_qs}" if request.path != "/" else "/login")
        raise web.HTTPForbidden(text="Your session has ended: log in again.")
    request[LOGIN] = login
    if request.method == "POST":
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            if request.path == "/import":
                limit = f"{request.client_max_size / 2**20:.0f} MB"
                return render(request, "import.html", status=413, errors=[f"The upload is larger than {limit}."])
            raise
        if not secrets.compare_digest(str(form.get("csrf", "")), login.csrf_token):
            raise web.HTTPForbidden(text="The form expired or did not come from this console (CSRF check).")
        request[FORM] = form
    return await handler(request)


# ------------------------------------------------------------------ login


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request[LOGIN_CSRF] = token
    response = render(request, "login.html", next=request.query.get("next", "/"))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=client_of(request).https)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(str(form.get("csrf", "")), cookie):
        raise web.HTTPForbidden(text="The login form expired: reload it.")
    try:
        token = await _console(request).auth.log_in(
            str(form.get("username", "")), str(form.get("password", "")), client_of(request).address
        )
    except LoginRefused as refused:
        request[LOGIN_CSRF] = cookie
        return render(request, "login.html", status=401, error=str(refused), next=str(form.get("next", "/")))
    target = str(form.get("next", "/"))
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # never redirect off-site
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=client_of(request).https, max_age=12 * 3600, path="/"
    )
    response.del_cookie(LOGIN_CSRF_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    await _console(request).auth.log_out(request.cookies.get(COOKIE, ""))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def make_app(
    open_console: Callable[[], AbstractAsyncContextManager[Console]], trusted_proxies: Sequence[str] = ()
) -> web.Application:
    """The console app with its base routes (health, login, logout, static files; the pages' ROUTES are added
    by console/app.py); `open_console` opens its services at start-up and closes them at clean-up;
    `trusted_proxies` (addresses or networks) may tell the client's address and scheme."""
    app = web.Application(middlewares=[client_address, require_login], client_max_size=4 * 1024 * 1024)
    app[PROXIES] = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]
    app.on_response_prepare.append(security_headers)
    holder = app[STATE] = _Holder()

    async def resources(_: web.Application) -> AsyncIterator[None]:
        async with open_console() as console:
            holder.console = console
            yield
            holder.console = None

    app.cleanup_ctx.append(resources)
    app[FLASHES] = {}
    app[TEMPLATES] = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[TEMPLATES].filters["as_utc"] = lambda moment: as_utc(moment) if moment else moment
    app.add_routes(
        [
            web.get("/health", health),
            web.get("/login", login_page),
            web.post("/login", login_submit),
            web.post("/logout", logout),
            web.static("/static", HERE / "static"),
        ]
    )
    return app
