"""Console: staff accounts (console/auth.py): create or reset, deactivate, reactivate, unlock. Admins only."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from console.auth import ACCOUNT_FAILURES, ACCOUNT_LOCK, AccountError
from console.web import FORM, Handler, _actor, _console, baku_time, redirect, render
from core.db import as_utc
from knowledge.curation import Role


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


ROUTES = [
    web.get("/users", users_page),
    web.post("/users", users_create),
    web.post("/users/deactivate", _account_step("deactivate")),
    web.post("/users/reactivate", _account_step("reactivate")),
    web.post("/users/unlock", _account_step("unlock")),
]
