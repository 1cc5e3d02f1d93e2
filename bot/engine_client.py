"""HTTP client for the Rasa engine's gateway channel; every message signed with the hop secret
(core/hop_auth.py), which the engine requires."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import ClientConnectionError, ClientError, ClientSession, ClientTimeout, ServerTimeoutError, TCPConnector

from core.hop_auth import sign

log = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """The engine could not be reached, timed out or failed; the user gets a kind apology."""


class EngineClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        retries: int,
        session: ClientSession | None = None,
        actions_health_url: str | None = None,
        hop_secret: str | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/webhooks/gateway/webhook"
        self.status_url = f"{base_url.rstrip('/')}/"
        self.actions_health_url = actions_health_url
        self.timeout = ClientTimeout(total=timeout_s)
        self.retries = retries
        self._session = session
        self._own_session = session is None
        self._hop_secret = hop_secret

    async def start(self) -> None:
        if self._session is None:
            # A connection per message: a Kubernetes Service balances connections, not requests, and a kept-alive
            # one would go on feeding a pod taken out of it while its engine loads a model (assistant/follower.py).
            self._session = ClientSession(connector=TCPConnector(force_close=True))

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Sends one user message and returns the engine's replies.

        Only a connection that could not be opened is retried: once the engine has the message, a retry
        could make it answer twice, so a timeout or an error after that point is final.
        """
        assert self._session is not None, "call start() first"
        body = json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()
        attempt = 0
        while True:
            headers = {"Content-Type": "application/json"}
            if self._hop_secret:
                headers.update(sign(self._hop_secret, body))  # at each attempt: a retry is a new request
            try:
                async with self._session.post(self.url, data=body, headers=headers, timeout=self.timeout) as response:
                    if response.status == 401:
                        log.error("the engine refused the gateway's signature: are both given the same hop secret?")
                        raise EngineUnavailable("engine refused the gateway's credentials")
                    if response.status != 200:
                        raise EngineUnavailable(f"engine answered HTTP {response.status}")
                    replies = await response.json(content_type=None)
                    if not isinstance(replies, list):
                        raise EngineUnavailable("engine answered something that is not a list")
                    return [r for r in replies if isinstance(r, dict)]
            except (TimeoutError, ServerTimeoutError) as error:
                raise EngineUnavailable("engine timed out") from error
            except ClientConnectionError as error:
                if attempt >= self.retries or not _never_connected(error):
                    raise EngineUnavailable(f"engine unreachable: {type(error).__name__}") from error
                attempt += 1
                await asyncio.sleep(0.5 * attempt)
            except (ClientError, ValueError) as error:
                raise EngineUnavailable(f"engine call failed: {type(error).__name__}") from error

    async def actions_down(self) -> bool:
        """True when the engine's action server does not answer its health check. The engine answers
        nothing at all when an action fails, which must not be passed off as "I did not understand"."""
        if self.actions_health_url is None or self._session is None:
            return False
        try:
            async with self._session.get(self.actions_health_url, timeout=ClientTimeout(total=1.5)) as response:
                return response.status != 200
        except (ClientError, TimeoutError):
            return True

    async def ready(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(self.status_url, timeout=ClientTimeout(total=3)) as response:
                return response.status == 200
        except (ClientError, TimeoutError):
            return False


def _never_connected(error: ClientConnectionError) -> bool:
    from aiohttp import ClientConnectorError

    return isinstance(error, ClientConnectorError)
