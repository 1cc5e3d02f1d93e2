"""Console: questions the assistant could not answer (knowledge/unanswered.py), grouped; staff add them to
an entry's draft (as variants or follow-up questions) or dismiss them.
"""

from __future__ import annotations

from aiohttp import web

from console.paging import paging
from console.web import FORM, _actor, _console, redirect, render
from knowledge.curation import CurationError

GROUPS_PER_PAGE = 25  # each group is a form with the whole list of entries


async def unanswered_page(request: web.Request) -> web.Response:
    console = _console(request)
    groups = await console.unanswered.groups()
    keys = [row.key for row in await console.curation.list_entries()]
    known = set(keys)
    for group in groups:  # an entry removed since it was suggested is no choice (nor the preselected one)
        group.suggestions = [key for key in group.suggestions if key in known]
    page = paging(request, len(groups), GROUPS_PER_PAGE)
    shown = groups[page.offset : page.offset + page.size]
    return render(request, "unanswered.html", groups=shown, keys=keys, paging=page)


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


ROUTES = [
    web.get("/unanswered", unanswered_page),
    web.post("/unanswered/attach", unanswered_attach),
    web.post("/unanswered/dismiss", unanswered_dismiss),
]
