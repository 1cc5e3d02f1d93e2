"""Console: applications whose status lookups are paused after failed verifications (cases/lockout.py).

Every staff member sees them; numbers are stored only as keyed hashes, so the page shows a hash prefix, and
someone on the phone with an applicant finds the application by typing its number (sent by POST, so it
stays out of URLs and access logs). Admins can lift a pause, once they know who is calling.
"""

from __future__ import annotations

import logging

from aiohttp import web

from cases.numbers import normalize_application_number
from console.web import FORM, _actor, _console, baku_time, redirect, render
from knowledge.curation import Role

log = logging.getLogger(__name__)
PREFIX = 12  # characters of the keyed hash shown as an application's reference


async def lockouts_page(request: web.Request, status: int = 200, **found: object) -> web.Response:
    lockout = _console(request).lockout
    return render(
        request,
        "lockouts.html",
        status=status,
        applications=await lockout.paused_applications(),
        users=await lockout.paused_users(),
        can_lift=_actor(request).role is Role.admin,
        prefix=PREFIX,
        baku_time=baku_time,
        **found,
    )


async def lockouts_find(request: web.Request) -> web.Response:
    number = normalize_application_number(str(request[FORM].get("number", "")))
    if number is None:
        errors = ["That is not an application number: three letters, the year and six digits (TRP-2026-000123)."]
        return await lockouts_page(request, status=400, errors=errors)
    return await lockouts_page(request, number=number, found=_console(request).lockout.application_hash(number))


async def lockouts_lift(request: web.Request) -> web.StreamResponse:
    if _actor(request).role is not Role.admin:
        raise web.HTTPForbidden(text="Only admins lift a pause.")
    application_hash = str(request[FORM].get("application", ""))
    lifted = await _console(request).lockout.lift(application_hash)
    if not lifted:
        raise redirect(request, "/lockouts", "That application was not paused (any more).")
    log.warning("lookup pause of application %s lifted by %s", application_hash[:PREFIX], _actor(request).username)
    raise redirect(
        request,
        "/lockouts",
        f"Pause of {application_hash[:PREFIX]} lifted: its {lifted} failed attempts no longer count for the "
        "application (they still count for the chats that made them).",
    )


ROUTES = [
    web.get("/lockouts", lockouts_page),
    web.post("/lockouts/find", lockouts_find),
    web.post("/lockouts/lift", lockouts_lift),
]
