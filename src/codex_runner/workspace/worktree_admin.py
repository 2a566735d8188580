"""A task worktree's private admin directory (``<repo>/.git/worktrees/<task-id>/``), and the
files git keeps for it that can be read without running git (its HEAD, its branch's loose ref).

The commit a worktree was made from is kept there in ``codex-runner-base``: git ignores the
file and deletes it with the worktree, and nobody else writes there.
"""

from __future__ import annotations

import re
from pathlib import Path

from codex_runner.workspace.protocol import WorkspaceExists
from codex_runner.workspace.repository import Repository

BASE_FILE = "codex-runner-base"
_OBJECT_ID = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")  # SHA-1 or SHA-256


def admin_dir(path: Path) -> Path:
    """The worktree's private git dir, from the ``gitdir:`` line of its ``.git`` file."""
    text = (path / ".git").read_text().strip()
    if not text.startswith("gitdir: "):
        raise WorkspaceExists(path, "its .git is not a worktree's link to a repository")
    admin = Path(text.removeprefix("gitdir: "))
    return admin if admin.is_absolute() else (path / admin).resolve()


def existing_worktree(path: Path, repo: Repository, branch: str) -> Path | None:
    """The admin dir of the task's worktree already at ``path``; None if ``path`` is free.

    Raises WorkspaceExists if something else is there.
    """
    if not path.exists() and not path.is_symlink():
        return None
    if not (path / ".git").is_file():
        raise WorkspaceExists(path, "it exists and is not a git worktree")
    admin = admin_dir(path)
    if admin.parent.resolve() != (repo.common_dir / "worktrees").resolve():
        raise WorkspaceExists(path, f"it is a worktree of another repository ({admin})")
    if not admin.is_dir():
        raise WorkspaceExists(path, f"its repository no longer knows it ({admin} is missing)")
    if half_made(admin):
        return admin
    head = (admin / "HEAD").read_text().strip()
    if head != f"ref: refs/heads/{branch}":
        raise WorkspaceExists(path, f"its HEAD is {head!r}, not branch {branch}")
    return admin


def present_worktree(path: Path, repo: Path, branch: str) -> str | None:
    """The base commit of the task's worktree at ``path`` when plain file reads show it
    whole: a worktree of ``repo`` in the usual layout (``repo/.git`` a directory), checked
    out on ``branch``, its checkout finished and its base recorded. None when they cannot
    tell; the caller then asks git, which also says what is wrong.
    """
    try:
        if not (path / ".git").is_file():
            return None
        admin = admin_dir(path).resolve()
        git_dir = repo / ".git"
        if not git_dir.is_dir() or admin.parent != (git_dir / "worktrees").resolve():
            return None
        if half_made(admin) or (admin / "HEAD").read_text().strip() != f"ref: refs/heads/{branch}":
            return None
    except (OSError, WorkspaceExists):
        return None
    return read_base(admin)


def head_ref(path: Path) -> str | None:
    """The ref the worktree at ``path`` has checked out, as ``git symbolic-ref HEAD`` says
    it (``refs/heads/...``; empty for a detached HEAD), read from its admin directory's HEAD;
    None when the files cannot tell (the caller asks git)."""
    try:
        head = (admin_dir(path) / "HEAD").read_text().strip()
    except (OSError, WorkspaceExists):
        return None
    return head.removeprefix("ref: ") if head.startswith("ref: ") else ""


def loose_branch_tip(repo: Path, branch: str) -> str | None:
    """The commit ``branch`` points at, from its loose ref file in the usual layout
    (``repo/.git/refs/heads/<branch>``: git writes a branch's new tip there, atomically, and
    reads it before any packed copy); None when there is no such file (a packed ref, another
    ref store, no branch): the caller asks git."""
    try:
        text = (repo / ".git" / "refs" / "heads" / branch).read_text().strip()
    except OSError:
        return None
    return text if _OBJECT_ID.match(text) else None


def half_made(admin: Path) -> bool:
    # `git worktree add` locks a worktree with reason "initializing" until its checkout ends.
    try:
        return (admin / "locked").read_text().startswith("initializing")
    except OSError:
        return False


def write_base(admin: Path, commit: str) -> None:
    (admin / BASE_FILE).write_text(commit + "\n")


def read_base(admin: Path) -> str | None:
    try:
        return (admin / BASE_FILE).read_text().strip() or None
    except OSError:
        return None


def read_base_of(path: Path) -> str | None:
    try:
        return read_base(admin_dir(path))
    except (OSError, WorkspaceExists):
        return None
