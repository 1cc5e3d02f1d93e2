"""A small HTTP server that behaves like a Rasa engine for the rollout's tests: `/status` names the model it
serves, `PUT /model` loads the model store's pointer and blocks for a while as Rasa's does (or fails, when
`broken`), and `/message` answers with the model's name, counting what arrives while it loads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from assistant.launcher import free_port
from training.model_store import ModelStore

TOKEN = "engine-api-token"
LOAD_S = 0.6


class FakeEngine:
    def __init__(self, store: ModelStore, model: str | None) -> None:
        self.store, self.model, self.port = store, model, free_port()
        self.loading = False
        self.asked_while_loading = 0
        self.broken = False  # every load fails, as a model Rasa cannot read would
        self.while_loading: Callable[[], Awaitable[object]] | None = None  # what else happens meanwhile
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def status(request: web.Request) -> web.Response:
            assert request.query["token"] == TOKEN
            if self.model is None:
                return web.json_response({"message": "No agent loaded"}, status=409)  # as Rasa answers
            return web.json_response({"model_file": f"/tmp/x/{self.model}"})

        async def load(request: web.Request) -> web.Response:
            self.loading = True
            try:
                if self.while_loading is not None:
                    await self.while_loading()
                await asyncio.sleep(LOAD_S)
                if self.broken:
                    return web.json_response({"message": "could not be loaded"}, status=400)
                self.model = str(await self.store.pointer())
                return web.Response(status=204)
            finally:
                self.loading = False

        async def message(request: web.Request) -> web.Response:
            if self.loading:
                self.asked_while_loading += 1
            return web.Response(text=self.model)

        app = web.Application()
        app.add_routes([web.get("/status", status), web.put("/model", load), web.post("/message", message)])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
