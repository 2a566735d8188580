"""InMemoryWorkspaces: the Workspaces test double, shipped in the package.

No git: a "repository" is a directory registered with :meth:`add_repository` together with
its refs, and a "worktree" is an empty directory under the root. Commits are snapshots of the
worktree's files kept in memory, so summaries and diffs describe what the task wrote, the
way the git implementation does for files the task adds. Each operation yields to the event
loop once and then runs to the end, so it is atomic.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.protocol import (
    CODEX_RUNNER_IDENTITY,
    DiffSummary,
    DirectoryMissing,
    FileStat,
    FinishedWorkspace,
    GcReport,
    GitIdentity,
    NotAGitRepository,
    UnknownRef,
    UnmergedWork,
    Workspace,
    WorkspaceExists,
    WorkspaceKind,
    branch_name,
    collect_garbage,
)

Files = dict[str, bytes]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Worktree:
    workspace: Workspace
    committed: Files = field(default_factory=dict)  # the branch tip's files (base: none)
    tip: str = ""
    commits: int = 0
    merged: bool = False
    messages: list[str] = field(default_factory=list)


class InMemoryWorkspaces:
    """Workspaces in directories under ``root``; see :class:`~.protocol.Workspaces`."""

    def __init__(self, root: Path, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.root = root.absolute()
        self._clock = clock
        self._repos: dict[Path, dict[str, str]] = {}
        self._worktrees: dict[str, _Worktree] = {}

    # --- test set-up -----------------------------------------------------------------------

    def add_repository(self, path: Path, refs: Mapping[str, str] | None = None) -> None:
        """Treat directory ``path`` as a git repository with these refs (name -> commit).

        ``HEAD`` defaults to a made-up commit.
        """
        path.mkdir(parents=True, exist_ok=True)
        known = dict(refs or {})
        known.setdefault("HEAD", hashlib.sha1(str(path).encode()).hexdigest())
        self._repos[path.resolve()] = known

    def mark_merged(self, workspace: Workspace) -> None:
        """Pretend the task branch was merged into the repository's HEAD."""
        self._worktrees[workspace.task_id].merged = True

    def commit_messages(self, workspace: Workspace) -> list[str]:
        return list(self._worktrees[workspace.task_id].messages)

    # --- the Workspaces interface ----------------------------------------------------------

    async def validate(self, request: WorkspaceRequest) -> None:
        await asyncio.sleep(0)
        self._check(request)

    async def create(self, task_id: str, request: WorkspaceRequest) -> Workspace:
        await asyncio.sleep(0)
        base = self._check(request)
        if request.cwd_path is not None:
            return Workspace(task_id, request.cwd_path.resolve(), WorkspaceKind.DIRECTORY)
        assert request.repo_path is not None
        existing = self._worktrees.get(task_id)
        if existing is not None:
            return existing.workspace
        path = self.root / task_id
        if path.exists():
            raise WorkspaceExists(path, "it exists and is not a git worktree")
        path.mkdir(parents=True)
        ws = Workspace(
            task_id=task_id,
            path=path,
            kind=WorkspaceKind.WORKTREE,
            branch=branch_name(task_id),
            base_commit=base,
            repo=request.repo_path.resolve(),
        )
        self._worktrees[task_id] = _Worktree(ws, tip=base or "")
        return ws

    async def locate(self, task_id: str, request: WorkspaceRequest) -> Workspace | None:
        await asyncio.sleep(0)
        if request.cwd_path is not None:
            if not request.cwd_path.is_dir():
                return None
            return Workspace(task_id, request.cwd_path.resolve(), WorkspaceKind.DIRECTORY)
        tree = self._worktrees.get(task_id)
        return tree.workspace if tree is not None else None

    async def commit_changes(
        self, workspace: Workspace, message: str, author: GitIdentity = CODEX_RUNNER_IDENTITY
    ) -> DiffSummary | None:
        await asyncio.sleep(0)
        if not workspace.is_worktree:
            return None
        if not message.strip():
            raise ValueError("a commit message must not be empty")
        tree = self._tree(workspace)
        current = _snapshot(workspace.path)
        if current != tree.committed:
            tree.committed = current
            tree.commits += 1
            tree.merged = False
            tree.messages.append(message)
            tree.tip = _fake_commit(tree.tip, current, author)
        return _summary(tree)

    async def diff(self, workspace: Workspace) -> str:
        await asyncio.sleep(0)
        if not workspace.is_worktree:
            return ""
        self._tree(workspace)
        return _unified({}, _snapshot(workspace.path))

    async def diff_summary(self, workspace: Workspace) -> DiffSummary | None:
        await asyncio.sleep(0)
        if not workspace.is_worktree:
            return None
        return _summary(self._tree(workspace))

    async def remove(self, workspace: Workspace, *, force: bool = False) -> None:
        await asyncio.sleep(0)
        self._remove(workspace, force)

    async def check_remove(self, workspace: Workspace) -> None:
        await asyncio.sleep(0)
        tree = self._worktrees.get(workspace.task_id)
        if workspace.is_worktree and tree is not None:
            self._refuse_unmerged(workspace, tree)

    async def prune(self, repo: Path) -> None:
        await asyncio.sleep(0)
        self._check(WorkspaceRequest(repo=str(repo)))

    async def gc(
        self, finished: Sequence[FinishedWorkspace], retention_s: float, *, force: bool = False
    ) -> GcReport:
        async def remove(ws: Workspace, force: bool) -> None:
            self._remove(ws, force)

        return await collect_garbage(remove, finished, retention_s, now=self._clock(), force=force)

    # --- internals -------------------------------------------------------------------------

    def _check(self, request: WorkspaceRequest) -> str | None:
        """Raise what validate raises; returns the base commit for a repository."""
        if request.cwd_path is not None:
            if not request.cwd_path.is_dir():
                raise DirectoryMissing(request.cwd_path)
            return None
        assert request.repo_path is not None
        if not request.repo_path.exists():
            raise NotAGitRepository(request.repo_path, "it does not exist")
        refs = self._repos.get(request.repo_path.resolve())
        if refs is None:
            raise NotAGitRepository(request.repo_path, "not a git repository")
        ref = request.base_ref or "HEAD"
        if ref not in refs:
            raise UnknownRef(request.repo_path, ref)
        return refs[ref]

    def _tree(self, workspace: Workspace) -> _Worktree:
        tree = self._worktrees.get(workspace.task_id)
        if tree is None:
            raise DirectoryMissing(workspace.path, fix="create the task's workspace first")
        return tree

    def _remove(self, workspace: Workspace, force: bool) -> None:
        if not workspace.is_worktree:
            return
        tree = self._worktrees.get(workspace.task_id)
        if tree is None:
            return
        if not force:
            self._refuse_unmerged(workspace, tree)
        shutil.rmtree(workspace.path, ignore_errors=True)
        del self._worktrees[workspace.task_id]

    def _refuse_unmerged(self, workspace: Workspace, tree: _Worktree) -> None:
        problems = []
        if tree.commits and not tree.merged:
            problems.append(
                f"has {tree.commits} commit{'s' if tree.commits != 1 else ''}"
                f" on {workspace.branch} not merged into the repository's HEAD"
            )
        if workspace.path.is_dir() and _snapshot(workspace.path) != tree.committed:
            problems.append("has uncommitted changes")
        if problems:
            raise UnmergedWork(workspace, " and ".join(problems))


def _snapshot(path: Path) -> Files:
    if not path.is_dir():
        return {}
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }


def _fake_commit(parent: str, files: Files, author: GitIdentity) -> str:
    digest = hashlib.sha1(parent.encode() + author.email.encode())
    for name, content in sorted(files.items()):
        digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()


def _lines(content: bytes) -> list[str]:
    return content.decode("utf-8", errors="replace").splitlines(keepends=True)


def _summary(tree: _Worktree) -> DiffSummary:
    stats: list[FileStat] = []
    for name, content in sorted(tree.committed.items()):
        if b"\0" in content:
            stats.append(FileStat(name, 0, 0, binary=True))
        else:
            stats.append(FileStat(name, len(_lines(content)), 0))
    return DiffSummary.of_files(tree.tip, stats)


def _unified(before: Files, after: Files) -> str:
    out: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        out.extend(
            difflib.unified_diff(
                _lines(old or b""),
                _lines(new or b""),
                fromfile=f"a/{name}" if old is not None else "/dev/null",
                tofile=f"b/{name}" if new is not None else "/dev/null",
            )
        )
    return "".join(out)
