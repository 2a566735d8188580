"""Workspaces: the interface the task service uses to get a place for a task to run.

A task runs either in its own git worktree (branch ``codex-runner/<task-id>``, made from a
base ref of a repository) or in place, in a plain directory the user owns.

Implementations: :class:`~codex_runner.workspace.git_worktrees.GitWorktrees` (the git CLI)
and :class:`~codex_runner.workspace.memory.InMemoryWorkspaces` (the test double, shipped in
the package). One contract test suite (``tests/unit/workspace/test_workspaces_contract.py``)
runs against both.

Rules every implementation keeps:

- ``validate`` creates nothing; call it before a task is stored so bad input leaves nothing
  half-created.
- ``create`` is idempotent per task: calling it again (after a crash) returns the same
  workspace, with its work, instead of failing. When it fails it leaves nothing behind.
- A plain-directory workspace belongs to the user: nothing ever commits in it or deletes it.
- ``remove`` never loses work unless forced: commits not merged into the repository's HEAD
  and uncommitted changes make it raise :class:`UnmergedWork`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from codex_runner.domain.task import WorkspaceRequest

BRANCH_PREFIX = "codex-runner/"


def branch_name(task_id: str) -> str:
    """The git branch of a task's worktree."""
    return f"{BRANCH_PREFIX}{task_id}"


# --- values --------------------------------------------------------------------------------


class WorkspaceKind(StrEnum):
    WORKTREE = "worktree"
    DIRECTORY = "directory"


@dataclass(frozen=True)
class Workspace:
    """A workspace that exists: where the task's Codex runs (``path``).

    For a worktree, ``branch`` is ``codex-runner/<task-id>``, ``base_commit`` the commit it
    was made from and ``repo`` the repository's top level; all three are None for a
    directory.
    """

    task_id: str
    path: Path
    kind: WorkspaceKind
    branch: str | None = None
    base_commit: str | None = None
    repo: Path | None = None

    @property
    def is_worktree(self) -> bool:
        return self.kind is WorkspaceKind.WORKTREE


@dataclass(frozen=True)
class FileStat:
    """Lines added and removed in one file (0 and 0 with ``binary`` for binary files)."""

    path: str
    insertions: int
    deletions: int
    binary: bool = False
    old_path: str | None = None  # set when the file was renamed


@dataclass(frozen=True)
class DiffSummary:
    """What a task's branch changed against its base commit, as of commit ``commit``."""

    commit: str
    files_changed: int
    insertions: int
    deletions: int
    files: tuple[FileStat, ...] = ()

    @classmethod
    def of_files(cls, commit: str, files: Sequence[FileStat]) -> DiffSummary:
        return cls(
            commit=commit,
            files_changed=len(files),
            insertions=sum(f.insertions for f in files),
            deletions=sum(f.deletions for f in files),
            files=tuple(files),
        )

    @property
    def text(self) -> str:
        """One line in git's ``--shortstat`` words, e.g. ``2 files changed, 3 insertions(+)``."""
        if self.files_changed == 0:
            return "no changes"
        parts = [f"{self.files_changed} file{'s' if self.files_changed != 1 else ''} changed"]
        if self.insertions:
            parts.append(f"{self.insertions} insertion{'s' if self.insertions != 1 else ''}(+)")
        if self.deletions:
            parts.append(f"{self.deletions} deletion{'s' if self.deletions != 1 else ''}(-)")
        return ", ".join(parts)

    def report(self, max_files: int = 50) -> str:
        """The shortstat line, then one line per file (``+3 -1 path``), at most ``max_files``."""
        lines = [self.text]
        for f in self.files[:max_files]:
            name = f"{f.old_path} => {f.path}" if f.old_path else f.path
            lines.append(
                f"  binary {name}" if f.binary else f"  +{f.insertions} -{f.deletions} {name}"
            )
        if len(self.files) > max_files:
            lines.append(f"  ... and {len(self.files) - max_files} more files")
        return "\n".join(lines)


@dataclass(frozen=True)
class GitIdentity:
    """Author and committer of the runner's commits (given to git with ``-c user.*``)."""

    name: str
    email: str


CODEX_RUNNER_IDENTITY = GitIdentity("codex-runner", "codex-runner@localhost")


@dataclass(frozen=True)
class FinishedWorkspace:
    """The workspace of a task in a terminal state, and when that task finished."""

    workspace: Workspace
    finished_at: datetime


class KeepReason(StrEnum):
    RECENT = "recent"  # finished less than the retention ago
    UNMERGED = "unmerged_work"  # removing it would lose work; force to remove anyway
    DIRECTORY = "directory"  # a plain directory belongs to the user; never deleted
    FAILED = "failed"  # removing failed; ``detail`` says why


@dataclass(frozen=True)
class KeptWorkspace:
    workspace: Workspace
    reason: KeepReason
    detail: str


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection removed, and what it kept and why."""

    removed: tuple[Workspace, ...] = ()
    kept: tuple[KeptWorkspace, ...] = ()


# --- errors --------------------------------------------------------------------------------


class WorkspaceError(Exception):
    """Base of workspace errors; the message names the problem and the fix."""


class NotAGitRepository(WorkspaceError):
    def __init__(self, repo: Path, problem: str) -> None:
        self.repo = repo
        super().__init__(
            f"{repo} is not a usable git repository: {problem};"
            " pass the top-level directory of a non-bare git repository with at least one commit"
            ", or use cwd to run in a plain directory"
        )


class UnknownRef(WorkspaceError):
    def __init__(self, repo: Path, ref: str) -> None:
        self.repo = repo
        self.ref = ref
        super().__init__(
            f"{ref!r} does not name a commit in {repo}; pass a branch, tag or commit that"
            f" exists there (see `git -C {repo} branch -a`), or leave base_ref out to use HEAD"
        )


class WorkspaceExists(WorkspaceError):
    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"cannot make the workspace at {path}: {problem}; move or delete {path}"
            " (or remove the stale task's workspace) and try again"
        )


class DirectoryMissing(WorkspaceError):
    def __init__(self, path: Path, fix: str = "create it or pass another cwd") -> None:
        self.path = path
        super().__init__(f"{path} is not an existing directory; {fix}")


class UnmergedWork(WorkspaceError):
    def __init__(self, workspace: Workspace, problem: str) -> None:
        self.workspace = workspace
        super().__init__(
            f"workspace {workspace.path} of task {workspace.task_id} {problem};"
            f" merge branch {workspace.branch} into the repository's HEAD first,"
            " or remove it with force=True (CLI: --force) to delete that work"
        )


class NotOnTaskBranch(WorkspaceError):
    """Someone switched the worktree to another branch; committing there would misfile work."""

    def __init__(self, workspace: Workspace, head: str) -> None:
        self.workspace = workspace
        self.head = head
        super().__init__(
            f"worktree {workspace.path} is on {head or 'a detached HEAD'}, not on its task branch"
            f" {workspace.branch}; run `git -C {workspace.path} switch {workspace.branch}`"
            " and retry"
        )


class GitFailed(WorkspaceError):
    """A git command failed in a way that has no more specific error."""

    def __init__(self, args: Sequence[str], returncode: int | None, stderr: str) -> None:
        self.command = tuple(args)
        self.returncode = returncode
        self.stderr = stderr
        # Only a timeout is helped by a longer timeout; a failure (a read-only home, a
        # broken repository) is fixed by what git said.
        if returncode is None:
            how, fix = "timed out", "raise the git timeout or find what makes git hang"
        else:
            how, fix = f"failed (exit code {returncode})", "fix what git reports"
        super().__init__(
            f"`git {' '.join(args)}` {how}: {stderr.strip() or 'no error output'}; {fix} and retry"
        )


# --- the interface -------------------------------------------------------------------------


class Workspaces(Protocol):
    async def validate(self, request: WorkspaceRequest) -> None:
        """Check that ``create`` could make this workspace, creating nothing.

        Raises NotAGitRepository (repo missing or not a git repository top level),
        UnknownRef (base ref names no commit), DirectoryMissing (cwd is not a directory).
        """

    async def create(self, task_id: str, request: WorkspaceRequest) -> Workspace:
        """Make the task's workspace, or return it if it already exists (crash recovery).

        For a repository: a worktree on a new branch ``codex-runner/<task-id>`` from the base
        ref (default HEAD). For a directory: the directory itself. Raises what ``validate``
        raises, and WorkspaceExists (the place is taken by something else); on failure
        nothing it made is left behind.
        """

    async def locate(self, task_id: str, request: WorkspaceRequest) -> Workspace | None:
        """The task's workspace if it exists now, without creating anything."""

    async def commit_changes(
        self, workspace: Workspace, message: str, author: GitIdentity = CODEX_RUNNER_IDENTITY
    ) -> DiffSummary | None:
        """Commit everything in the worktree (honouring .gitignore) on the task branch.

        Commits only if something changed. Returns the summary of the branch against its
        base commit either way; None for a directory workspace.
        """

    async def diff(self, workspace: Workspace) -> str:
        """Unified diff from the base commit to the worktree: commits plus uncommitted work.

        Empty for a directory workspace.
        """

    async def diff_summary(self, workspace: Workspace) -> DiffSummary | None:
        """Summary of the committed branch against its base commit; None for a directory."""

    async def remove(self, workspace: Workspace, *, force: bool = False) -> None:
        """Delete the worktree and its branch; a no-op for directories and for gone ones.

        Raises UnmergedWork (nothing removed) when the branch has commits not merged into
        the repository's HEAD, or the worktree has uncommitted changes, unless ``force``.
        """

    async def check_remove(self, workspace: Workspace) -> None:
        """Raise what ``remove(workspace)`` (not forced) would raise, removing nothing: for
        a dry run of gc and of the disk policy."""

    async def prune(self, repo: Path) -> None:
        """Forget ``repo``'s worktrees whose directories were deleted by hand."""

    async def gc(
        self, finished: Sequence[FinishedWorkspace], retention_s: float, *, force: bool = False
    ) -> GcReport:
        """Remove workspaces of tasks that finished more than ``retention_s`` ago.

        Pass only tasks in a terminal state. Keeps (and reports why) recent ones, directories,
        ones with unmerged work unless ``force``, and ones whose removal failed.
        """


async def collect_garbage(
    remove: Callable[[Workspace, bool], Awaitable[None]],
    finished: Sequence[FinishedWorkspace],
    retention_s: float,
    *,
    now: datetime,
    force: bool,
) -> GcReport:
    """The gc policy every implementation shares; ``remove(workspace, force)`` does the work.

    Workspaces are removed one at a time: removals in one repository take git's locks.
    """
    if retention_s < 0:
        raise ValueError(f"retention_s must not be negative, got {retention_s}")
    removed: list[Workspace] = []
    kept: list[KeptWorkspace] = []
    for item in finished:
        ws = item.workspace
        age_s = (now - item.finished_at).total_seconds()
        if not ws.is_worktree:
            kept.append(
                KeptWorkspace(ws, KeepReason.DIRECTORY, "a plain directory is never deleted")
            )
        elif age_s < retention_s:
            kept.append(
                KeptWorkspace(
                    ws, KeepReason.RECENT, f"finished {age_s:.0f}s ago, retention {retention_s:g}s"
                )
            )
        else:
            try:
                await remove(ws, force)
            except UnmergedWork as exc:
                kept.append(KeptWorkspace(ws, KeepReason.UNMERGED, str(exc)))
            except WorkspaceError as exc:
                kept.append(KeptWorkspace(ws, KeepReason.FAILED, str(exc)))
            else:
                removed.append(ws)
    return GcReport(removed=tuple(removed), kept=tuple(kept))
