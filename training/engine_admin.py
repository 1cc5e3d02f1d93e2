"""One engine's HTTP API, asked directly (not through the balancer): which model it serves, and loading the
model store's pointer into it (Rasa's `PUT /model`; endpoints.yml names the store as its model server)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout


class ReloadFailed(Exception):
    pass


async def load_pointer(engine_url: str, token: str, timeout_s: float = 300.0) -> None:
    """Makes the engine load the model the store's pointer names. Rasa swaps it in only once it is loaded;
    a failed load leaves the engine on the model it had. The body is Rasa's required shape; the model
    server in the engine's endpoints wins over it."""
    try:
        async with (
            ClientSession() as session,
            session.put(
                f"{engine_url.rstrip('/')}/model",
                params={"token": token},
                json={"model_file": "model-store"},
                timeout=ClientTimeout(total=timeout_s),
            ) as response,
        ):
            if response.status != 204:
                raise ReloadFailed(
                    f"the engine refused the model: HTTP {response.status} {(await response.text())[:300]}"
                )
    except (ClientError, TimeoutError) as error:
        raise ReloadFailed(f"engine unreachable: {type(error).__name__}") from error


async def loaded_model(engine_url: str, token: str | None) -> str | None:
    """The file name of the model the engine serves (`GET /status`); None when it serves none or is unreachable."""
    return (await engine_state(engine_url, token))[1]


async def engine_state(engine_url: str, token: str | None) -> tuple[bool, str | None]:
    """Whether the engine answers, and the file name of the model it serves (None: none; Rasa answers 409
    before a model is in, e.g. when the model store was unreachable as it started)."""
    if token is None:
        return False, None
    try:
        async with (
            ClientSession() as session,
            session.get(
                f"{engine_url.rstrip('/')}/status", params={"token": token}, timeout=ClientTimeout(total=5)
            ) as response,
        ):
            if response.status != 200:
                return response.status == 409, None
            return True, Path((await response.json()).get("model_file", "")).name or None
    except (ClientError, TimeoutError, ValueError):
        return False, None
