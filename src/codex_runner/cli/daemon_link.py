"""The :class:`~codex_runner.service.daemon_link.DaemonLink` the CLI hands to the services
that run in its process (``doctor``, the API key's life cycle, profile switches): the one
daemon client, :class:`~codex_runner.cli.client.DaemonClient`, behind that small Protocol."""

from __future__ import annotations

from typing import Any

import httpx

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.http.wire import ProfileSwitchBody
from codex_runner.service.daemon_link import DaemonAnswers, DaemonRefused, DaemonUnanswered

# doctor must not hang on a wedged daemon; a profile switch waits while the daemon
# restarts Codex before it answers.
PROBE_TIMEOUT = httpx.Timeout(3.0)
SWITCH_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ApiDaemonLink:
    """A running daemon, asked over its HTTP API."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport  # tests answer with httpx.MockTransport

    def answers(self, url: str, token: str) -> DaemonAnswers:
        try:
            with self._client(url, token, PROBE_TIMEOUT) as client:
                healthz = client.answer_status("/healthz")
                status = client.answer_status("/v1/status")
                return DaemonAnswers(healthz=healthz, status=status, link=_link_of(client, status))
        except ClientError as exc:
            raise _translated(exc) from None

    def switch_profile(self, url: str, token: str, name: str, mode: str) -> str:
        body = ProfileSwitchBody.model_validate({"name": name, "mode": mode})
        try:
            with self._client(url, token, SWITCH_TIMEOUT) as client:
                return client.switch_profile(body).message
        except ClientError as exc:
            raise _translated(exc) from None

    def _client(self, url: str, token: str, timeout: httpx.Timeout) -> DaemonClient:
        return DaemonClient(url, token, timeout=timeout, transport=self._transport)


def _link_of(client: DaemonClient, status: int) -> dict[str, Any] | None:
    """The link's state in the daemon's status, None when it has none (or answers one this
    client cannot read: an older daemon)."""
    if status != 200:
        return None
    try:
        link = client.status().link
    except ClientError:
        return None
    return link.model_dump(mode="json") if link is not None else None


def _translated(exc: ClientError) -> DaemonRefused | DaemonUnanswered:
    if exc.status is None:
        return DaemonUnanswered(exc.unanswered or str(exc))
    return DaemonRefused(str(exc), status=exc.status, code=exc.code)
