"""The admin page's login sessions and one-time login codes, held in memory.

A restart logs everyone out (the API token is the durable secret). Session ids and codes
are random; they are kept only as SHA-256 digests, so looking one up leaks nothing useful
through timing and a memory dump does not hold a usable cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "codex_runner_session"
SESSION_TTL_S = 12 * 3600.0
LOGIN_CODE_TTL_S = 5 * 60.0
MAX_SESSIONS = 1000  # bounded: the oldest go first
MAX_LOGIN_CODES = 100


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    id: str  # the cookie value; only the creator sees it
    csrf_token: str
    expires_at: float


@dataclass(frozen=True)
class _Stored:
    csrf_token: str
    expires_at: float


class AdminSessions:
    """Sessions keyed by cookie value, and single-use login codes valid a few minutes."""

    cookie_name = SESSION_COOKIE

    def __init__(
        self,
        *,
        session_ttl_s: float = SESSION_TTL_S,
        code_ttl_s: float = LOGIN_CODE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_ttl_s = session_ttl_s
        self._code_ttl_s = code_ttl_s
        self._clock = clock
        self._sessions: dict[str, _Stored] = {}
        self._codes: dict[str, float] = {}

    def create(self) -> Session:
        """A new session (after a successful login)."""
        self._expire()
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=self._clock() + self._session_ttl_s,
        )
        self._sessions[_digest(session.id)] = _Stored(session.csrf_token, session.expires_at)
        return session

    def csrf_token(self, session_id: str) -> str | None:
        """The CSRF token of a live session, or None."""
        stored = self._sessions.get(_digest(session_id))
        if stored is None or stored.expires_at <= self._clock():
            return None
        return stored.csrf_token

    def end(self, session_id: str) -> None:
        self._sessions.pop(_digest(session_id), None)

    def issue_login_code(self) -> str:
        """A random single-use code for a login link (not the API token)."""
        self._expire()
        while len(self._codes) >= MAX_LOGIN_CODES:
            del self._codes[next(iter(self._codes))]
        code = secrets.token_urlsafe(24)
        self._codes[_digest(code)] = self._clock() + self._code_ttl_s
        return code

    def redeem_login_code(self, code: str) -> bool:
        """True once for a code issued less than the code TTL ago; False ever after."""
        expires_at = self._codes.pop(_digest(code), None)
        return expires_at is not None and expires_at > self._clock()

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]
        for key in [k for k, t in self._codes.items() if t <= now]:
            del self._codes[key]
