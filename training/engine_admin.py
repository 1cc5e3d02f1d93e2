"""The engine's HTTP API, for what staff tools need: loading a new model into the running engine."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout

from core.settings import Settings


class ReloadFailed(Exception):
    pass


async def load_model(settings: Settings, model: Path) -> None:
    """Hot-swaps the engine's model (Rasa's `PUT /model`); the old model serves until the new one is in."""
    if settings.engine_api_token is None:
        raise ReloadFailed("no engine API token is configured")
    url = f"{settings.engine_url.rstrip('/')}/model"
    params = {"token": settings.engine_api_token.get_secret_value()}
    try:
        async with (
            ClientSession() as session,
            session.put(
                url, params=params, json={"model_file": str(model)}, timeout=ClientTimeout(total=300)
            ) as response,
        ):
            if response.status != 204:
                raise ReloadFailed(f"engine refused the model: HTTP {response.status} {(await response.text())[:300]}")
    except (ClientError, TimeoutError) as error:
        raise ReloadFailed(f"engine unreachable: {type(error).__name__}") from error


async def loaded_model(settings: Settings) -> str | None:
    """The file name of the model the engine serves, from `GET /status`."""
    if settings.engine_api_token is None:
        return None
    params = {"token": settings.engine_api_token.get_secret_value()}
    try:
        async with (
            ClientSession() as session,
            session.get(
                f"{settings.engine_url.rstrip('/')}/status", params=params, timeout=ClientTimeout(total=5)
            ) as response,
        ):
            if response.status != 200:
                return None
            return Path((await response.json()).get("model_file", "")).name or None
    except (ClientError, TimeoutError, ValueError):
        return None
