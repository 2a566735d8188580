"""What the services that run in the CLI's process ask of a running daemon.

``doctor`` and the API key's life cycle run in the CLI, not in the daemon, yet need the
daemon's answer (is it healthy, does it accept the token, switch its Codex over). The
daemon is reached over its HTTP API, which is the CLI's business: it has the one client
(:class:`codex_runner.cli.client.DaemonClient`) and hands these services a
:class:`DaemonLink` over it, so ``service/`` makes no HTTP calls. :class:`FakeDaemonLink`
answers from a script, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class DaemonUnanswered(Exception):
    """The daemon did not answer; ``str()`` says how the request failed (e.g. ConnectError)."""


class DaemonRefused(Exception):
    """The daemon answered with an error; ``str()`` is its message (or the HTTP status)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code  # the API's error code; None when the answer was not the API's

    @property
    def busy(self) -> bool:
        """Turns are running: a retry once idle (or forced) may work."""
        return self.status == 409

    @property
    def unsupported(self) -> bool:
        """A 404 that is not the API's own: the daemon has no such route (its exec runtime
        starts Codex per turn, reading the active profile each time)."""
        return self.status == 404 and self.code is None


@dataclass(frozen=True)
class DaemonAnswers:
    """The HTTP statuses the daemon answered: ``/healthz``, and ``/v1/status`` with the token;
    and the chat server link's state from that status, when it has one."""

    healthz: int
    status: int
    link: dict[str, Any] | None = None


class DaemonLink(Protocol):
    """A running daemon, asked at ``url`` with the API ``token``."""

    def answers(self, url: str, token: str) -> DaemonAnswers:
        """How it answers ``GET /healthz`` and ``GET /v1/status``. Raises DaemonUnanswered."""
        ...

    def switch_profile(self, url: str, token: str, name: str, mode: str) -> str:
        """Ask it to switch to auth profile ``name`` (mode ``now``, ``when_idle`` or
        ``force``); its message. Raises DaemonRefused or DaemonUnanswered."""
        ...


@dataclass
class FakeDaemonLink:
    """A daemon that answers from a script: ``unanswered`` (a failure's name) makes every
    request fail; ``refusal`` makes a switch fail; ``asked`` records each request."""

    healthz: int = 200
    status: int = 200
    link: dict[str, Any] | None = None
    switch_message: str = "switched"
    unanswered: str | None = None
    refusal: DaemonRefused | None = None
    asked: list[tuple[str, ...]] = field(default_factory=list)

    def answers(self, url: str, token: str) -> DaemonAnswers:
        self.asked.append(("answers", url, token))
        if self.unanswered is not None:
            raise DaemonUnanswered(self.unanswered)
        return DaemonAnswers(self.healthz, self.status, self.link)

    def switch_profile(self, url: str, token: str, name: str, mode: str) -> str:
        self.asked.append(("switch_profile", url, token, name, mode))
        if self.unanswered is not None:
            raise DaemonUnanswered(self.unanswered)
        if self.refusal is not None:
            raise self.refusal
        return self.switch_message
