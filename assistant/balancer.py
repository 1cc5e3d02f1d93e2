"""A small HTTP load balancer for replicas on one machine or a private network (tests, the scale-out demo):
round robin over the upstreams that pass their health check.

    python -m assistant.balancer --listen 127.0.0.1:5005 --health / \
        --upstream http://127.0.0.1:5105 --upstream http://127.0.0.1:5106

A request goes to the next healthy upstream. It is sent to another one only when it certainly was not
handled: the connection was refused, or the upstream answered 503 ("cannot take it now"). After a timeout
or a dropped connection it is not repeated, because the first upstream may have answered the user already;
the caller sees 502 and handles it like any engine failure. Production uses its platform's balancer
(see docs/deployment.md); this one keeps the tested configuration honest on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import time
from dataclasses import dataclass

from aiohttp import ClientConnectorError, ClientError, ClientSession, ClientTimeout, web

from core.logs import configure_logging
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass
class Upstream:
    url: str
    healthy: bool = True
    down_until: float = 0.0

    def usable(self, now: float) -> bool:
        return self.healthy and now >= self.down_until


class Balancer:
    def __init__(
        self,
        upstreams: list[str],
        health_path: str = "/health",
        timeout_s: float = 60.0,
        check_every_s: float = 1.0,
        down_for_s: float = 2.0,
    ) -> None:
        self.upstreams = [Upstream(u.rstrip("/")) for u in upstreams]
        self.health_path, self.timeout_s = health_path, timeout_s
        self.check_every_s, self.down_for_s = check_every_s, down_for_s
        self._turn = itertools.count()
        self._session: ClientSession | None = None
        self._checker: asyncio.Task | None = None

    def candidates(self) -> list[Upstream]:
        """Every upstream, healthy ones first, starting at the next in turn."""
        now = time.monotonic()
        start = next(self._turn) % len(self.upstreams)
        ordered = self.upstreams[start:] + self.upstreams[:start]
        return [u for u in ordered if u.usable(now)] + [u for u in ordered if not u.usable(now)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for upstream in self.candidates():
            try:
                async with self._session.request(
                    request.method,
                    upstream.url + request.rel_url.raw_path_qs,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    if response.status == 503:
                        upstream.down_until = time.monotonic() + self.down_for_s
                        continue
                    payload = await response.read()
                    return web.Response(
                        body=payload,
                        status=response.status,
                        headers={k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP},
                    )
            except ClientConnectorError:
                upstream.down_until = time.monotonic() + self.down_for_s
                log.warning("upstream %s refused the connection; trying the next", upstream.url)
                continue
            except (ClientError, TimeoutError) as error:
                log.error("upstream %s failed mid-request (%s); not repeated", upstream.url, type(error).__name__)
                return web.json_response({"error": "upstream failed"}, status=502)
        return web.json_response({"error": "no upstream available"}, status=503)

    async def _check(self) -> None:
        assert self._session is not None
        while True:
            for upstream in self.upstreams:
                try:
                    async with self._session.get(
                        upstream.url + self.health_path, timeout=ClientTimeout(total=2)
                    ) as response:
                        healthy = response.status == 200
                except (ClientError, TimeoutError, OSError):
                    healthy = False
                if healthy != upstream.healthy:
                    log.warning("upstream %s is %s", upstream.url, "back" if healthy else "down")
                upstream.healthy = healthy
            await asyncio.sleep(self.check_every_s)

    async def start(self, app: web.Application) -> None:
        self._session = ClientSession(timeout=ClientTimeout(total=self.timeout_s))
        self._checker = asyncio.create_task(self._check())

    async def stop(self, app: web.Application) -> None:
        await cancel_and_wait(self._checker)
        if self._session is not None:
            await self._session.close()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 << 20)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--upstream", action="append", required=True)
    parser.add_argument("--health", default="/health", help="path that answers 200 on a healthy upstream")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    configure_logging("balancer", "INFO")
    host, _, port = args.listen.rpartition(":")
    web.run_app(
        Balancer(args.upstream, args.health, args.timeout).app(),
        host=host or "127.0.0.1",
        port=int(port),
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
