"""Console: tickets handed to people (handoff/), by queue and state, with response and resolution times,
and each ticket's transcript.
"""

from __future__ import annotations

from aiohttp import web

from console.paging import paging
from console.web import _console, baku_time, render
from handoff.models import QUEUES, STATES


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


async def tickets_page(request: web.Request) -> web.Response:
    """Tickets handed to people, by queue and state, with response and resolution times."""
    tickets = _console(request).tickets
    queue = request.query.get("queue") if request.query.get("queue") in QUEUES else None
    state = request.query.get("state") if request.query.get("state") in STATES else None
    timings = {name: await tickets.timing(name) for name in QUEUES}
    timings["all"] = await tickets.timing()
    page = paging(request, await tickets.count(queue, state))
    return render(
        request,
        "tickets.html",
        tickets=await tickets.listing(queue, state, page.offset, page.size),
        paging=page,
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


ROUTES = [
    web.get("/tickets", tickets_page),
    web.get(r"/tickets/{ticket:\d+}", ticket_page),
]
