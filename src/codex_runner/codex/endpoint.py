"""Where the runner reaches its Codex app-server: its own child on stdio or on a Unix
socket, or an app-server that something else started (``[codex] url``).

The shared socket lives at ``$CODEX_RUNNER_HOME/run/codex/app-server.sock`` in a 0700
folder. Codex 0.163 makes that path a symlink to the real socket, which it creates with
mode 0600 in its own 0700 folder (``/tmp/codex-daemon-UID/<hash>``) and removes when it
exits cleanly. A Unix socket address is at most 108 bytes, so clients connect through the
symlink's target, which is short whatever the home's path is.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from codex_runner.config import RunnerConfig

SOCKET_FOLDER = "codex"
SOCKET_NAME = "app-server.sock"
MAX_SOCKET_ADDRESS = 107  # sun_path holds 108 bytes with its NUL on Linux


class EndpointError(ValueError):
    """An app-server address that cannot work; the message says how to fix it."""


@dataclass(frozen=True)
class Endpoint:
    """An app-server address: ``unix`` with a path, or ``ws`` with a URL."""

    scheme: Literal["unix", "ws"]
    address: str  # the path of a unix endpoint, the URL of a ws one

    @property
    def url(self) -> str:
        return f"unix://{self.address}" if self.scheme == "unix" else self.address


def parse_endpoint(url: str) -> Endpoint:
    """``ws://HOST:PORT`` / ``wss://...`` or ``unix:///absolute/path``; EndpointError else."""
    parts = urlsplit(url)
    if parts.scheme in ("ws", "wss"):
        if not parts.hostname:
            raise EndpointError(f"{url!r} names no host; write ws://HOST:PORT")
        return Endpoint("ws", url)
    if parts.scheme == "unix":
        path = url[len("unix://") :]
        if not path.startswith("/"):
            raise EndpointError(f"{url!r} is not an absolute socket path; write unix:///PATH")
        return Endpoint("unix", path)
    raise EndpointError(f"{url!r} is not an app-server address; use ws://HOST:PORT or unix:///PATH")


def shared_socket_path(config: RunnerConfig) -> Path:
    """Where the runner's own app-server listens (the path humans and tools attach to)."""
    return config.pids_dir / SOCKET_FOLDER / SOCKET_NAME


def shared_remote(config: RunnerConfig) -> str | None:
    """The address a person's Codex attaches to (``codex --remote``), or None when the
    runner's Codex cannot be shared (the exec runtime, or its app-server on stdio)."""
    if config.codex.runtime != "app-server":
        return None
    if config.codex.url:
        return config.codex.url
    if config.codex.listen == "socket":
        return f"unix://{shared_socket_path(config)}"
    return None


def connect_path(path: Path) -> Path:
    """The address a client connects to: the symlink's target when short enough."""
    try:
        target = Path(os.path.realpath(path))
    except OSError:
        return path
    if len(os.fsencode(str(path))) <= MAX_SOCKET_ADDRESS:
        return path
    return target


def prepare_socket_folder(path: Path) -> None:
    """Make the socket's folder (0700, ours) and remove a socket a killed daemon left.

    The home lock guarantees that no other runner uses this home, so whatever sits at the
    path is a leftover; its target socket is Codex's and named after this path only.
    """
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    info = folder.lstat()
    if info.st_uid != os.getuid():
        raise EndpointError(
            f"{folder} belongs to uid {info.st_uid}, not to this user; remove it and start again"
        )
    try:
        leftover = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(leftover.st_mode):
        target = Path(os.path.realpath(path))
        if target.exists() and stat.S_ISSOCK(target.lstat().st_mode):
            target.unlink(missing_ok=True)
    elif not stat.S_ISSOCK(leftover.st_mode):
        raise EndpointError(
            f"{path} exists and is not a socket; move it away so the app-server can listen"
        )
    path.unlink(missing_ok=True)
