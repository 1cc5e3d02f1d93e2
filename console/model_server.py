"""The model store's archive for the engines, in the shape of Rasa's model server: `GET /engine/model` answers
the pointer's archive with its name as ETag, or 304 when the engine's `If-None-Match` already names it.

Engines authenticate with the engine API token as a bearer (endpoints.yml's `models` headers): it is no staff
page, and no one else may download the model.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from console.web import _console

PATH = "/engine/model"


def _authorised(request: web.Request) -> bool:
    token = _console(request).settings.engine_api_token
    given = request.headers.get("Authorization", "")
    return token is not None and secrets.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode())


async def serve_model(request: web.Request) -> web.StreamResponse:
    if not _authorised(request):
        raise web.HTTPUnauthorized(text="engines only", headers={"WWW-Authenticate": "Bearer"})
    store = _console(request).models
    name = await store.pointer()
    stored = await store.get(name) if name else None
    if stored is None:
        raise web.HTTPNotFound(text="no model is pointed at yet")
    if request.headers.get("If-None-Match") == stored.name:
        return web.Response(status=304, headers={"ETag": stored.name})
    response = web.StreamResponse(
        headers={
            "ETag": stored.name,
            "filename": stored.name,  # Rasa names the downloaded file after it: /status shows the model's name
            "Content-Type": "application/gzip",
            "Content-Length": str(stored.size),
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for chunk in store.chunks(stored.name):
        await response.write(chunk)
    await response.write_eof()
    return response


ROUTES = [web.get(PATH, serve_model)]
