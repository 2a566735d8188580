"""Auth for every route: an ASGI middleware, so no route can forget it.

Only the paths in ``open_paths`` (by default just ``/healthz``) are served without
credentials; everything else, the OpenAPI document and unknown paths included, needs
``Authorization: Bearer <token>``, compared in constant time.

With :class:`BrowserAccess` (the admin page), a session cookie also authenticates. Because
a browser sends cookies on its own, a state-changing request authenticated by cookie must
also come from the daemon's own origin (``Origin`` equal, as a string, to the scheme and
``Host`` of the request) and carry the session's CSRF token in ``X-CSRF-Token``. A few
explicit browser requests (the login page and its assets) are open; an open request that
changes state still needs the same ``Origin``.

With ``allowed_hosts``, a request whose ``Host`` header is not listed is refused (421)
before anything else, bearer or not: this blocks DNS rebinding, where a hostile page's
own name resolves to 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from codex_runner.http.errors import error_response
from codex_runner.runner_home.api_token import TOKEN_FILE, token_matches

OPEN_PATHS: frozenset[str] = frozenset({"/healthz"})
SAFE_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

UNAUTHORIZED_MESSAGE = (
    "missing or wrong API token: send 'Authorization: Bearer <token>' with the token from "
    f"$CODEX_RUNNER_HOME/{TOKEN_FILE} (created when the daemon first starts)"
)
MISDIRECTED_MESSAGE = (
    "this daemon does not answer to that Host name; use the URL that `codex-runner serve` "
    "printed (127.0.0.1, localhost or the bound address)"
)
ORIGIN_MESSAGE = "cross-origin request refused: Origin must be this daemon's own origin"
CSRF_MESSAGE = f"missing or wrong CSRF token: send the page's token in {CSRF_HEADER}"


class CookieSessions(Protocol):
    """The admin page's sessions, as the middleware needs them."""

    @property
    def cookie_name(self) -> str: ...

    def csrf_token(self, session_id: str) -> str | None:
        """The live session's CSRF token, or None when there is no such live session."""
        ...


@dataclass(frozen=True)
class BrowserAccess:
    """Cookie sessions, and the few browser requests served without any credentials."""

    sessions: CookieSessions
    open_requests: frozenset[tuple[str, str]]  # (method, path), e.g. ("GET", "/admin/login")
    open_asset_prefix: str | None = None  # GET/HEAD under it: static files, no data
    login_path: str | None = None  # unauthenticated page GETs under its parent redirect here


def host_allowlist(bound_host: str, port: int, extra: Collection[str] = ()) -> frozenset[str]:
    """``Host`` values (lowercase, with port) the daemon answers to: the loopback names and
    the bound host (plus ``extra`` names, e.g. this machine's name for a wildcard bind)."""
    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if bound_host not in ("", "0.0.0.0", "::"):
        names.add(f"[{bound_host}]" if ":" in bound_host else bound_host)
    return frozenset(f"{name.lower()}:{port}" for name in names)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def own_origin(scope: Scope, headers: Headers) -> str:
    """The origin a page served by this request would have: scheme and Host, as sent."""
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{headers.get('host', '')}"


class BearerAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        open_paths: frozenset[str] = OPEN_PATHS,
        browser: BrowserAccess | None = None,
        allowed_hosts: frozenset[str] | None = None,
    ):
        if not token:
            raise ValueError("the API token is empty; refusing to serve without auth")
        self.app = app
        self._token = token
        self._open_paths = open_paths
        self._browser = browser
        self._hosts = allowed_hosts

    def authorized(self, scope: Scope) -> bool:
        presented = bearer_token(Headers(scope=scope).get("authorization"))
        return presented is not None and token_matches(self._token, presented)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self._hosts is not None and headers.get("host", "").lower() not in self._hosts:
            await self._refuse(scope, receive, send, 421, "misdirected_host", MISDIRECTED_MESSAGE)
            return
        if (scope["type"] == "http" and scope["path"] in self._open_paths) or self.authorized(
            scope
        ):
            await self.app(scope, receive, send)
            return
        refusal = self._browser_refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refusal
        if status == 401 and self._redirects_to_login(scope):
            assert self._browser is not None and self._browser.login_path is not None
            await RedirectResponse(self._browser.login_path, 303)(scope, receive, send)
            return
        await self._refuse(scope, receive, send, status, code, message)

    def _browser_refusal(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        """None when the browser request may pass; else (status, code, message)."""
        unauthorized = (401, "unauthorized", UNAUTHORIZED_MESSAGE)
        browser = self._browser
        if browser is None or scope["type"] != "http":
            return unauthorized
        method, path = scope["method"], scope["path"]
        safe = method in SAFE_METHODS
        same_origin = headers.get("origin") == own_origin(scope, headers)
        if (method, path) in browser.open_requests or (
            safe
            and browser.open_asset_prefix is not None
            and path.startswith(browser.open_asset_prefix)
        ):
            if not safe and not same_origin:
                return (403, "forbidden_origin", ORIGIN_MESSAGE)
            return None
        session_id = cookie_parser(headers.get("cookie", "")).get(browser.sessions.cookie_name)
        csrf = browser.sessions.csrf_token(session_id) if session_id else None
        if csrf is None:
            return unauthorized
        if safe:
            return None
        if not same_origin:
            return (403, "forbidden_origin", ORIGIN_MESSAGE)
        presented = headers.get(CSRF_HEADER)
        if presented is None or not token_matches(csrf, presented):
            return (403, "csrf_failed", CSRF_MESSAGE)
        return None

    def _redirects_to_login(self, scope: Scope) -> bool:
        login = self._browser.login_path if self._browser is not None else None
        if login is None or scope["type"] != "http" or scope["method"] not in SAFE_METHODS:
            return False
        section = login.rsplit("/", 1)[0] + "/"
        return bool(scope["path"].startswith(section) or scope["path"] == section.rstrip("/"))

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await error_response(status, code, message, headers=headers)(scope, receive, send)
