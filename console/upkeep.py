"""Console: time-bound facts to re-check and translations to check (knowledge/upkeep.py).

Every staff member sees both lists; reviewers and admins confirm (a fact checked against its source today, or
an answer read against the other language's change). Editing an answer goes through the entry's page, as
any change does.
"""

from __future__ import annotations

import logging

from aiohttp import web

from console.web import FORM, _actor, _console, baku_time, redirect, render
from knowledge.curation import CurationError
from knowledge.upkeep import ORDERS

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"az": "Azerbaijani", "ru": "Russian", "en": "English"}


async def recheck_page(request: web.Request) -> web.Response:
    upkeep = _console(request).upkeep
    order = request.query.get("order", "oldest")
    order = order if order in ORDERS else "oldest"
    return render(
        request,
        "recheck.html",
        facts=await upkeep.facts_to_check(order),
        order=order,
        today=upkeep.today(),
        can_confirm=_actor(request).can_publish(),
    )


async def recheck_confirm(request: web.Request) -> web.StreamResponse:
    form, upkeep = request[FORM], _console(request).upkeep
    key, order = str(form.get("key", "")), str(form.get("order", "oldest"))
    back = f"/recheck?order={order if order in ORDERS else 'oldest'}"
    try:
        index = int(str(form.get("index", "")))
        fact = await upkeep.confirm_fact(_actor(request), key, index, str(form.get("note", "")).strip() or None)
    except ValueError:
        raise redirect(request, back, "That fact is no longer in the entry; reload the list.") from None
    except CurationError as error:
        raise redirect(request, back, str(error)) from None
    raise redirect(request, back, f"Confirmed today: {key}: {fact}")


async def translations_page(request: web.Request) -> web.Response:
    return render(
        request,
        "translations.html",
        rows=await _console(request).upkeep.out_of_step(),
        names=LANGUAGE_NAMES,
        baku_time=baku_time,
        can_confirm=_actor(request).can_publish(),
    )


async def translations_confirm(request: web.Request) -> web.StreamResponse:
    form = request[FORM]
    key, language = str(form.get("key", "")), str(form.get("language", ""))
    try:
        await _console(request).upkeep.confirm_translation(_actor(request), key, language)
    except CurationError as error:
        raise redirect(request, "/translations", str(error)) from None
    name = LANGUAGE_NAMES.get(language, language)
    raise redirect(request, "/translations", f"{key}: the {name} answer is confirmed as in step.")


ROUTES = [
    web.get("/recheck", recheck_page),
    web.post("/recheck/confirm", recheck_confirm),
    web.get("/translations", translations_page),
    web.post("/translations/confirm", translations_confirm),
]
