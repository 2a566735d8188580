"""File modes: the runner's own files are private; what agents write keeps the user's modes.

The daemon creates its files in many places (the store and its WAL, logs, task logs, the RPC
log, run files, the Slack database), so rather than a mode at every ``open`` it sets its own
umask to 077 once at start: everything it creates is 0600 (directories 0700). The children
that write into the user's projects (Codex and the commands it runs, git checking out a
worktree) get back the umask the daemon was started with, so an agent's files look as if the
user had written them.
"""

from __future__ import annotations

import os

PRIVATE_UMASK = 0o077

_user_umask: int | None = None


def make_private_by_default() -> None:
    """Make files this process creates private from now on; remembers the user's umask."""
    global _user_umask
    previous = os.umask(PRIVATE_UMASK)
    if _user_umask is None:
        _user_umask = previous


def user_umask() -> int:
    """The umask for children working in the user's files; -1 (inherit) when unchanged."""
    return -1 if _user_umask is None else _user_umask
