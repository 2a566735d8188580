"""A proxy in front of the scripted model that answers some model calls 429 with Retry-After.

The scripted model answers errors without headers; a provider's rate limit comes with a
``Retry-After`` header, which this proxy adds. Every other call goes through unchanged
(streamed), so the tasks beside the rate-limited one talk to the model as usual.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from codex_runner.mockmodel import MockModelServer

RETRY_AFTER_S = 1
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class RateLimitProxy:
    """``async with RateLimitProxy(model, trigger)``: calls whose body holds ``trigger``
    get 429; ``limited`` counts them."""

    def __init__(self, model: MockModelServer, trigger: str) -> None:
        self.model = model
        self.trigger = trigger.encode()
        self.limited = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def __aenter__(self) -> RateLimitProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def codex_config(self) -> dict[str, Any]:
        """The scripted model's Codex settings, pointed at this proxy."""
        config = self.model.codex_config()
        for provider in config["model_providers"].values():
            provider["base_url"] = provider["base_url"].replace(
                f":{self.model.port}/", f":{self.port}/"
            )
        return config

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.trigger in body:
            self.limited += 1
            error = {"error": {"message": "rate limited by the proxy", "type": "rate_limit"}}
            return web.json_response(error, status=429, headers={"Retry-After": str(RETRY_AFTER_S)})
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        target = f"{self.model.base_url.rsplit('/v1', 1)[0]}{request.path_qs}"
        async with self._session.request(
            request.method, target, data=body, headers=headers
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except aiohttp.ClientPayloadError:
                # The model cut its stream: cut Codex's too, as the model would have.
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write_eof()
            return response
