"""Bearer-token auth for every route: an ASGI middleware, so no route can forget it.

Only the paths in ``open_paths`` (by default just ``/healthz``) are served without the
token; everything else, the OpenAPI document and unknown paths included, needs
``Authorization: Bearer <token>``, compared in constant time.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from codex_runner.api.errors import error_response
from codex_runner.daemon.token import TOKEN_FILE, token_matches

OPEN_PATHS: frozenset[str] = frozenset({"/healthz"})

UNAUTHORIZED_MESSAGE = (
    "missing or wrong API token: send 'Authorization: Bearer <token>' with the token from "
    f"$CODEX_RUNNER_HOME/{TOKEN_FILE} (created when the daemon first starts)"
)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class BearerAuth:
    def __init__(self, app: ASGIApp, *, token: str, open_paths: frozenset[str] = OPEN_PATHS):
        if not token:
            raise ValueError("the API token is empty; refusing to serve without auth")
        self.app = app
        self._token = token
        self._open_paths = open_paths

    def authorized(self, scope: Scope) -> bool:
        presented = bearer_token(Headers(scope=scope).get("authorization"))
        return presented is not None and token_matches(self._token, presented)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or (
            scope["type"] == "http" and scope["path"] in self._open_paths
        ):
            await self.app(scope, receive, send)
            return
        if self.authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
            return
        response = error_response(
            401, "unauthorized", UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)
