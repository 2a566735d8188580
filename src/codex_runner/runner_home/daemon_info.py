"""Where a running daemon can be reached: ``$CODEX_RUNNER_HOME/run/daemon.json``.

``serve`` writes the file once it listens and removes it when it stops; clients (the CLI,
``doctor``, ``config status``) read it to find the URL. A file left by a killed daemon names
a pid that is gone, so :func:`running_daemon` checks the pid before trusting it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from codex_runner.runner_home.processes import pid_alive

INFO_FILE = "daemon.json"


@dataclass(frozen=True)
class DaemonInfo:
    url: str
    pid: int
    started_at: str  # ISO 8601, UTC


def info_path(home: Path) -> Path:
    return home / "run" / INFO_FILE


def write_info(home: Path, info: DaemonInfo) -> None:
    path = info_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    os.replace(tmp, path)


def remove_info(home: Path, pid: int) -> None:
    """Remove the file if it still names ``pid`` (a newer daemon may have replaced it)."""
    info = read_info(home)
    if info is not None and info.pid == pid:
        info_path(home).unlink(missing_ok=True)


def read_info(home: Path) -> DaemonInfo | None:
    path = info_path(home)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return DaemonInfo(
            url=str(raw["url"]), pid=int(raw["pid"]), started_at=str(raw["started_at"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_daemon(home: Path) -> DaemonInfo | None:
    """The daemon's info if its process is alive, else None."""
    info = read_info(home)
    if info is None or not pid_alive(info.pid):
        return None
    return info
