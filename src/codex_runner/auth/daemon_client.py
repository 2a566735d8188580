"""Asking a running daemon to switch auth profiles (``POST /v1/auth/profile``).

A daemon owns the Codex runtime, so only it can restart that runtime on another profile's
Codex home; the CLI writes ``profiles/active`` itself only when no daemon runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from codex_runner.runner_home.api_token import read_token
from codex_runner.runner_home.daemon_info import DaemonInfo

TIMEOUT_S = 30.0  # the daemon restarts Codex before it answers


class DaemonSwitchError(Exception):
    """The daemon refused or could not be asked; the message says why."""

    def __init__(self, message: str, *, refused: bool = False, unsupported: bool = False) -> None:
        super().__init__(message)
        self.refused = refused  # turns are running: a --when-idle or --force retry may work
        # The daemon has no profile route (its exec runtime starts Codex per turn, reading
        # the active profile each time): writing profiles/active is the whole switch.
        self.unsupported = unsupported


@dataclass(frozen=True)
class DaemonSwitch:
    url: str
    result: dict[str, Any]


def request_switch(
    home: Path,
    daemon: DaemonInfo,
    name: str,
    mode: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> DaemonSwitch:
    """Ask the daemon at ``daemon.url`` to switch to profile ``name`` (mode now/when_idle/force)."""
    token = read_token(home)
    try:
        # trust_env=False: a proxy from the environment must never see the bearer token.
        with httpx.Client(
            base_url=daemon.url, timeout=TIMEOUT_S, transport=transport, trust_env=False
        ) as client:
            response = client.post(
                "/v1/auth/profile",
                json={"name": name, "mode": mode},
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.HTTPError as exc:
        raise DaemonSwitchError(
            f"the daemon at {daemon.url} did not answer ({type(exc).__name__}); "
            "check it with `codex-runner doctor`"
        ) from None
    body = _json(response)
    if response.status_code == 200:
        return DaemonSwitch(daemon.url, body)
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    raise DaemonSwitchError(
        f"the daemon refused: {message or f'HTTP {response.status_code}'}",
        refused=response.status_code == 409,
        unsupported=response.status_code == 404 and message is None,
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
