"""What the runner writes on disk, by kind: the one list the disk accounting walks
(``codex-runner disk``, ``GET /v1/disk``, ``/metrics``, the admin page) and the disk policy
(:mod:`~codex_runner.service.disk_policy`) reclaims from. docs/disk.md explains each kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from codex_runner.auth.profile_store import ProfileStore
from codex_runner.config import RunnerConfig

DATABASE_FILE = "runner.sqlite"

# Kinds, in the order they are shown.
WORKTREES = "worktrees"  # finished and running tasks' git worktrees
LOGS = "logs"  # the layered logs: logs/runner, logs/tasks, logs/sessions, logs/raw
SESSIONS = "sessions"  # the Slack bridge's session workspaces (sessions/<key>/)
REPOS = "repos"  # the clone cache offered to chat sessions
CODEX_SESSIONS = "codex_sessions"  # Codex's rollouts, in every Codex home the runner uses
CODEX_LOGS = "codex_logs"  # Codex's own logs, in every Codex home the runner uses
UPLOADS = "uploads"  # images handed in with tasks
RELEASES = "releases"  # Codex releases installed besides the pinned one (docs/releases.md)
STORE = "store"  # SQLite and its WAL (absent with PostgreSQL)
KINDS: tuple[str, ...] = (
    WORKTREES,
    LOGS,
    SESSIONS,
    REPOS,
    CODEX_SESSIONS,
    CODEX_LOGS,
    UPLOADS,
    RELEASES,
    STORE,
)


def codex_homes(config: RunnerConfig) -> list[Path]:
    """Every Codex home the runner uses: the pinned ``codex.home``, else each auth profile's
    (the default one included), without repeats."""
    if config.codex.home:
        return [Path(config.codex.home)]
    store = ProfileStore(config.home)
    homes = [store.codex_home(name) for name in store.names()]
    return list(dict.fromkeys([*homes, config.codex_home]))


def disk_kinds(
    home: Path, *, codex_homes: Iterable[Path], sqlite_store: bool
) -> dict[str, tuple[Path, ...]]:
    """The folders (and files) of each kind under the runner ``home``; ``sqlite_store`` when
    the store is the SQLite file in the home."""
    homes = tuple(codex_homes)
    db = home / DATABASE_FILE
    kinds: dict[str, tuple[Path, ...]] = {
        WORKTREES: (home / "worktrees",),
        LOGS: (home / "logs",),
        SESSIONS: (home / "sessions",),
        REPOS: (home / "repos",),
        # Codex writes rollouts under sessions/ (archived_sessions/ once archived) and its
        # own log under log/.
        CODEX_SESSIONS: tuple(h / d for h in homes for d in ("sessions", "archived_sessions")),
        CODEX_LOGS: tuple(h / "log" for h in homes),
        UPLOADS: (home / "uploads",),
        RELEASES: (home / "releases",),
    }
    if sqlite_store:
        kinds[STORE] = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
    return kinds


def runner_disk_kinds(config: RunnerConfig) -> dict[str, tuple[Path, ...]]:
    """:func:`disk_kinds` of a configured runner."""
    return disk_kinds(
        config.home, codex_homes=codex_homes(config), sqlite_store=not config.store.url
    )
