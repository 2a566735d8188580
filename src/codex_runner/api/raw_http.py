"""The raw ``http`` log layer: one record per API request, when ``[logs] raw_http`` is on.

Method, path, status and duration only. The query string, every header (the
Authorization header and cookies above all) and every body stay out: they are where
secrets travel, and a log of requests must not become a place to steal them from.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codex_runner.logs.raw import RawLayer


class RawHttpLog:
    """ASGI middleware; add it outermost so refused requests are recorded too."""

    def __init__(self, app: ASGIApp, *, layer: RawLayer) -> None:
        self.app = app
        self.layer = layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.layer.record(
                {
                    "method": scope.get("method", ""),
                    "path": scope.get("path", ""),
                    "status": status,  # 0: no response started (the client left, or a crash)
                    "duration_ms": round((time.perf_counter() - began) * 1000, 3),
                }
            )
