"""Where the CLI finds the daemon of a runner home, and the token it presents."""

from __future__ import annotations

import os
from pathlib import Path

from codex_runner.cli.daemon_errors import ClientError
from codex_runner.config import ConfigError, load_config
from codex_runner.runner_home.api_token import TokenMissing, read_token
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile

URL_ENV = "CODEX_RUNNER_URL"


def resolve_url(home: Path, url: str | None = None) -> str:
    """Where the daemon listens: ``url`` (a flag), ``$CODEX_RUNNER_URL``, the running
    daemon's ``daemon.json``, else ``[service] host/port`` from the configuration."""
    explicit = url or os.environ.get(URL_ENV)
    if explicit:
        return explicit.rstrip("/")
    info = running_daemon(home)
    if info is not None:
        return info.url.rstrip("/")
    try:
        service = load_config(home).service
    except ConfigError as exc:
        raise ClientError(str(exc)) from None
    host = f"[{service.host}]" if ":" in service.host else service.host
    return f"http://{host}:{service.port}"


def api_token(home: Path) -> str:
    """The home's API token; a :class:`ClientError` saying the fix when it cannot be read."""
    try:
        return read_token(home)
    except (TokenMissing, UnsafeSecretFile) as exc:
        raise ClientError(str(exc)) from None
    except OSError as exc:
        raise ClientError(f"cannot read the API token under {home}: {exc}") from None
