"""Headers on every response of our JSON APIs (the case API sandbox, the gateway's webhook server), errors
and redirects included: they pass through aiohttp's `on_response_prepare` like any other response.

Case data must not stay in a proxy's or browser's cache, a JSON body must never be sniffed into something
else, and nothing here is meant to be framed or to load anything. (The staff console has its own, fuller
set: console/web.py.)
"""

from __future__ import annotations

from aiohttp import web

API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


async def _add(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(API_HEADERS)


def protect(app: web.Application) -> web.Application:
    app.on_response_prepare.append(_add)
    return app
