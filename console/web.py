"""The staff console: aiohttp, server-rendered pages (Jinja2, autoescaped), no JavaScript.

Security: every page but /login needs a session (HttpOnly, SameSite=Strict cookie; only its hash is
stored); every POST carries the session's CSRF token; every response, errors and redirects included, forbids
framing and scripts, is not cached, and over HTTPS carries HSTS. Roles are enforced by the services
(knowledge.curation) as well as here. Behind a reverse proxy, only the proxies named in
`console_trusted_proxies` are believed about the client's address and scheme (X-Forwarded-For/-Proto).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from cases.lockout import Lockout
from console.auth import ACCOUNT_FAILURES, ACCOUNT_LOCK, AccountError, Login, LoginRefused, StaffAuth, ip_of
from core.db import as_utc
from core.i18n import BAKU
from core.settings import LANGUAGES, Settings
from handoff.models import QUEUES, STATES
from handoff.service import Handoff
from knowledge.consistency import problems
from knowledge.curation import Actor, Curation, CurationError, Role, diff
from knowledge.models import ASPECTS, REVIEW_STATES, TOPICS
from knowledge.schema import EntryData, dump_yaml, parse_entries
from knowledge.store import KnowledgeBase
from knowledge.unanswered import UnansweredLog
from knowledge.upkeep import Upkeep
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
    if request.path in ("/login", "/health") or request.path.startswith("/static/"):
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


# ------------------------------------------------------------------ entries


async def entries(request: web.Request) -> web.Response:
    console = _console(request)
    query, topic = request.query.get("q", "").strip(), request.query.get("topic", "")
    rows = await console.curation.list_entries(query, topic)
    return render(request, "entries.html", rows=rows, q=query, topic=topic)


def facts_as_lines(data: EntryData | None) -> str:
    """An entry's dated facts as the form shows them: "confirmed on | kind | fact", one per line."""
    return "" if data is None else "\n".join(f"{f.confirmed_on} | {f.kind} | {f.fact}" for f in data.dated_facts)


def _facts_from_lines(text: str) -> list[dict[str, str]]:
    facts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3:
            example = "“2026-12-06 | fee | …”"
            raise ValueError(f"time-bound facts, line {number}: write “date | kind | fact”, e.g. {example}")
        facts.append({"confirmed_on": parts[0], "kind": parts[1], "fact": parts[2]})
    return facts


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _words(value: Any) -> list[str]:
    """A list field as the form shows it: words separated by commas or spaces."""
    return [word for word in str(value or "").replace(",", " ").split() if word]


def _form_to_data(form: Any, key: str) -> EntryData:
    texts = {}
    for lang in LANGUAGES:
        texts[lang] = {
            "question": str(form.get(f"{lang}_question", "")).strip(),
            "answer": str(form.get(f"{lang}_answer", "")).replace("\r\n", "\n").strip(),
            "source": str(form.get(f"{lang}_source", "")).strip() or None,
            "variants": _lines(form.get(f"{lang}_variants", "")),
            "follow_ups": _lines(form.get(f"{lang}_follow_ups", "")),
        }
    return EntryData.model_validate(
        {
            "key": key,
            "topic": form.get("topic", ""),
            "legal_source": str(form.get("legal_source", "")).strip(),
            "source_url": str(form.get("source_url", "")).strip() or None,
            "reviewed_on": form.get("reviewed_on") or dt.date.today().isoformat(),
            "review_state": form.get("review_state", "published"),
            "review_note": str(form.get("review_note", "")).strip() or None,
            "needs_person": form.get("needs_person") == "on",
            "dated_facts": _facts_from_lines(str(form.get("dated_facts", ""))),
            "subjects": _words(form.get("subjects", "")),
            "aspects": _words(form.get("aspects", "")),
            "related": _words(form.get("related", "")),
            "texts": texts,
        }
    )


def _errors(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        where = " › ".join(str(part) for part in item["loc"] if part not in ("texts",))
        messages.append(f"{where}: {item['msg']}" if where else item["msg"])
    return messages


async def entry_page(request: web.Request) -> web.Response:
    console = _console(request)
    key = request.match_info["key"]
    view = await console.curation.view(key)
    if view is None:
        raise web.HTTPNotFound(text="No such entry.")
    shown = view.draft or view.live
    changes = diff(view.live, view.draft) if view.draft is not None else ""
    return render(
        request,
        "entry.html",
        view=view,
        data=shown,
        key=key,
        votes=await console.curation.votes(key),
        changes=changes,
        stale=view.draft is not None and view.live is not None and view.draft_base_version != view.version,
        marks=await console.upkeep.marks(key),
        problems=problems(shown) if shown is not None else [],
    )


async def new_entry_page(request: web.Request) -> web.Response:
    prefill = {"question": request.query.get("question", ""), "lang": request.query.get("lang", "en")}
    return render(
        request, "entry.html", view=None, data=None, key="", prefill=prefill, votes=None, stale=False, marks={}
    )


async def entry_save(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    form = request[FORM]
    key = request.match_info.get("key") or str(form.get("key", "")).strip()
    existing = await console.curation.view(key) if key else None
    if "key" not in request.match_info and existing is not None:
        return render(
            request,
            "entry.html",
            status=400,
            view=None,
            data=None,
            key=key,
            votes=None,
            stale=False,
            errors=[f"An entry with the key “{key}” exists already."],
            form=form,
            marks={},
        )
    try:
        data = _form_to_data(form, key)
        await console.curation.save_draft(_actor(request), data, str(form.get("comment", "")).strip() or None)
        if form.get("action") == "submit":
            await console.curation.submit(_actor(request), key)
    except ValueError as error:  # pydantic's ValidationError, or a malformed line of time-bound facts
        return render(
            request,
            "entry.html",
            status=400,
            view=existing,
            data=None,
            key=key,
            votes=None,
            stale=False,
            errors=_errors(error) if isinstance(error, ValidationError) else [str(error)],
            form=form,
            marks={},
        )
    except CurationError as error:
        raise redirect(request, f"/entries/{key}", str(error)) from None
    done = "Saved and submitted for review." if form.get("action") == "submit" else "Draft saved."
    raise redirect(request, f"/entries/{key}", done)


def _step(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        console = _console(request)
        key, form, actor = request.match_info["key"], request[FORM], _actor(request)
        comment = str(form.get("comment", "")).strip()
        try:
            if name == "submit":
                await console.curation.submit(actor, key)
                message = "Submitted for review."
            elif name == "publish":
                retrain = await console.curation.publish(actor, key, comment or None)
                message = "Published: users get the new answer now." + (
                    " The question variants changed, so the model is being retrained (see Training)." if retrain else ""
                )
            elif name == "send_back":
                await console.curation.send_back(actor, key, comment or "sent back without comment")
                message = "Sent back to the author."
            else:
                await console.curation.discard(actor, key)
                message = "Draft discarded."
        except CurationError as error:
            message = str(error)
        target = f"/entries/{key}" if name != "discard" or await console.curation.view(key) else "/"
        raise redirect(request, target, message)

    return handler


async def history_page(request: web.Request) -> web.Response:
    console = _console(request)
    key = request.match_info["key"]
    revisions = await console.curation.history(key)
    rows = []
    for index, revision in enumerate(revisions):
        older = revisions[index + 1] if index + 1 < len(revisions) else None
        new = EntryData.model_validate(revision.snapshot)
        old = EntryData.model_validate(older.snapshot) if older else None
        rows.append((revision, diff(old, new)))
    return render(request, "history.html", key=key, rows=rows)


async def restore(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    try:
        key = await console.curation.restore(_actor(request), int(request.match_info["revision"]))
    except CurationError as error:
        raise redirect(request, "/", str(error)) from None
    raise redirect(request, f"/entries/{key}", "That version is now the draft: review and publish it to make it live.")


# ------------------------------------------------------------------ import / export


async def export_yaml(request: web.Request) -> web.Response:
    entries = await _console(request).kb.export()
    return web.Response(
        text=dump_yaml(entries),
        content_type="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="knowledge-{dt.date.today().isoformat()}.yml"'},
    )


async def import_page(request: web.Request) -> web.Response:
    return render(request, "import.html")


async def import_submit(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    form = request[FORM]
    upload = form.get("file")
    raw = upload.file.read() if hasattr(upload, "file") else str(form.get("text", "")).encode()
    try:
        # Parsing and validating a large file takes CPU time: in a thread, so the console keeps answering.
        entries = await asyncio.to_thread(parse_entries, raw)
        found = [f"{entry.key}: {problem}" for entry in entries for problem in problems(entry)]
        if found:  # the figures or terms of an entry's languages disagree: nothing is written
            return render(request, "import.html", status=400, errors=found)
        count = await console.curation.import_entries(_actor(request), entries, publish=bool(form.get("publish")))
    except ValidationError as error:
        return render(request, "import.html", status=400, errors=_errors(error))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as error:  # includes schema.YamlRefused
        return render(request, "import.html", status=400, errors=[f"Could not read the file: {error}"])
    except CurationError as error:
        return render(request, "import.html", status=403, errors=[str(error)])
    raise redirect(
        request,
        "/",
        f"Imported {count} entries" + (" and published them." if form.get("publish") else " as drafts in review."),
    )


# ------------------------------------------------------------------ unanswered, training, users


async def unanswered_page(request: web.Request) -> web.Response:
    console = _console(request)
    groups = await console.unanswered.groups()
    keys = [row.key for row in await console.curation.list_entries()]
    return render(request, "unanswered.html", groups=groups, keys=keys)


async def unanswered_attach(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    form = request[FORM]
    ids = [int(x) for x in str(form.get("ids", "")).split(",") if x.strip().isdigit()]
    key = str(form.get("key", ""))
    try:
        added = await console.unanswered.attach(_actor(request), console.curation, ids, key)
    except CurationError as error:
        raise redirect(request, "/unanswered", str(error)) from None
    raise redirect(
        request,
        f"/entries/{key}",
        f"Added {added} question(s) to the draft (as variants, or as follow-up questions where they were asked"
        " after another answer): review and publish it to retrain the model.",
    )


async def unanswered_dismiss(request: web.Request) -> web.StreamResponse:
    ids = [int(x) for x in str(request[FORM].get("ids", "")).split(",") if x.strip().isdigit()]
    await _console(request).unanswered.resolve(ids, None)
    raise redirect(request, "/unanswered", "Dismissed.")


async def training_page(request: web.Request) -> web.Response:
    from training.engine_admin import loaded_model

    console = _console(request)
    return render(
        request,
        "training.html",
        runs=await console.retrainer.runs(),
        serving=await loaded_model(console.settings),
        finetunes_before_full=console.settings.finetunes_before_full,
    )


async def training_request(request: web.Request) -> web.StreamResponse:
    if not _actor(request).can_publish():
        raise redirect(request, "/training", "Only reviewers and admins can start a training.")
    await _console(request).retrainer.request(_actor(request).username, full=True)
    raise redirect(request, "/training", "Training from scratch queued.")


def duration(seconds: float | None) -> str:
    """1 h 05 min, 4 min 10 s, 12 s; an em dash when there is nothing to measure yet."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def baku_time(moment: dt.datetime | None) -> str:
    return moment.astimezone(BAKU).strftime("%Y-%m-%d %H:%M") if moment else ""


async def tickets_page(request: web.Request) -> web.Response:
    """Tickets handed to people, by queue and state, with response and resolution times."""
    tickets = _console(request).tickets
    queue = request.query.get("queue") if request.query.get("queue") in QUEUES else None
    state = request.query.get("state") if request.query.get("state") in STATES else None
    timings = {name: await tickets.timing(name) for name in QUEUES}
    timings["all"] = await tickets.timing()
    return render(
        request,
        "tickets.html",
        tickets=list(reversed(await tickets.listing(queue, state))),
        timings=timings,
        queue=queue,
        state=state,
        queues=QUEUES,
        states=STATES,
        duration=duration,
        baku_time=baku_time,
    )


async def ticket_page(request: web.Request) -> web.Response:
    found = await _console(request).tickets.transcript(int(request.match_info["ticket"]))
    if found is None:
        raise web.HTTPNotFound(text="No such ticket.")
    ticket, lines = found
    return render(request, "ticket.html", ticket=ticket, lines=lines, baku_time=baku_time, duration=duration)


def _admin_only(request: web.Request) -> None:
    if _actor(request).role is not Role.admin:
        raise web.HTTPForbidden(text="Only admins manage staff accounts.")


async def users_page(request: web.Request) -> web.Response:
    _admin_only(request)
    now = dt.datetime.now(dt.UTC)
    users = await _console(request).auth.users()
    locked = {u.id for u in users if u.locked_until is not None and as_utc(u.locked_until) > now}
    return render(
        request,
        "users.html",
        users=users,
        locked=locked,
        roles=list(Role),
        baku_time=baku_time,
        failures=ACCOUNT_FAILURES,
        lock_minutes=ACCOUNT_LOCK // dt.timedelta(minutes=1),
    )


async def users_create(request: web.Request) -> web.StreamResponse:
    _admin_only(request)
    form = request[FORM]
    try:
        active = await _console(request).auth.create_user(
            str(form.get("username", "")).strip(), str(form.get("password", "")), Role(str(form.get("role")))
        )
    except ValueError as error:
        raise redirect(request, "/users", f"Not saved: {error}") from None
    raise redirect(request, "/users", "Account saved." if active else "Account saved; it stays deactivated.")


def _account_step(name: str) -> Handler:
    """Deactivate, reactivate or unlock the account named in the form."""

    async def handler(request: web.Request) -> web.StreamResponse:
        _admin_only(request)
        auth, username = _console(request).auth, str(request[FORM].get("username", ""))
        try:
            if name == "unlock":
                await auth.unlock(username)
            else:
                await auth.set_active(username, name == "reactivate", by=_actor(request).username)
        except AccountError as error:
            raise redirect(request, "/users", f"Not changed: {error}.") from None
        done = {"unlock": "unlocked", "deactivate": "deactivated and logged out", "reactivate": "reactivated"}
        raise redirect(request, "/users", f"Account {username} {done[name]}.")

    return handler


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def make_app(
    open_console: Callable[[], AbstractAsyncContextManager[Console]], trusted_proxies: Sequence[str] = ()
) -> web.Application:
    """The console app; `open_console` opens its services at start-up and closes them at clean-up;
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
            web.get("/", entries),
            web.get("/entries/new", new_entry_page),
            web.post("/entries/new", entry_save),
            web.get("/entries/{key}", entry_page),
            web.post("/entries/{key}/save", entry_save),
            web.post("/entries/{key}/submit", _step("submit")),
            web.post("/entries/{key}/publish", _step("publish")),
            web.post("/entries/{key}/send-back", _step("send_back")),
            web.post("/entries/{key}/discard", _step("discard")),
            web.get("/entries/{key}/history", history_page),
            web.post("/revisions/{revision}/restore", restore),
            web.get("/export.yml", export_yaml),
            web.get("/import", import_page),
            web.post("/import", import_submit),
            web.get("/unanswered", unanswered_page),
            web.post("/unanswered/attach", unanswered_attach),
            web.post("/unanswered/dismiss", unanswered_dismiss),
            web.get("/training", training_page),
            web.post("/training", training_request),
            web.get("/tickets", tickets_page),
            web.get(r"/tickets/{ticket:\d+}", ticket_page),
            web.get("/users", users_page),
            web.post("/users", users_create),
            web.post("/users/deactivate", _account_step("deactivate")),
            web.post("/users/reactivate", _account_step("reactivate")),
            web.post("/users/unlock", _account_step("unlock")),
            web.static("/static", HERE / "static"),
        ]
    )
    return app
