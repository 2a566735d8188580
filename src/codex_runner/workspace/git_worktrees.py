"""GitWorktrees: task workspaces as git worktrees, driven by the git CLI.

A task's worktree lives at ``<root>/<task-id>`` on branch ``codex-runner/<task-id>``. The
commit it was made from is written to ``codex-runner-base`` in the worktree's private admin
directory (``<repo>/.git/worktrees/<task-id>/``): git ignores that file, deletes it with the
worktree, and nobody else writes there, so concurrent creates in one repository do not
contend for a lock.

Creating costs the ``git worktree add`` itself (the commit it used is read back from the new
branch's ref), plus one ``git rev-parse`` in unusual cases (the place taken, a repository
whose ``.git`` is not a directory); nothing else runs over the tree (``bench``: within ~1.2x
of a bare ``git worktree add -b``). Finding a worktree made earlier (every run after a task's
first) reads its files and runs no git at all.

Every git call runs with a timeout in its own process group (so hooks and filters die with
it), is always reaped, never prompts (no terminal, no askpass, no editor) and sees no git
variables leaked from a parent git process (:mod:`~codex_runner.workspace.git_process`).
The worktree's admin directory is read in :mod:`~codex_runner.workspace.worktree_admin`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.git_process import GIT_TIMEOUT_S, GitResult, GitRunner, failed
from codex_runner.workspace.protocol import (
    CODEX_RUNNER_IDENTITY,
    DiffSummary,
    DirectoryMissing,
    FinishedWorkspace,
    GcReport,
    GitFailed,
    GitIdentity,
    NotAGitRepository,
    NotOnTaskBranch,
    UnmergedWork,
    Workspace,
    WorkspaceKind,
    branch_name,
    collect_garbage,
)
from codex_runner.workspace.repo_lock import RepoLocks
from codex_runner.workspace.repository import Repository, plain_top, resolve_repository
from codex_runner.workspace.worktree_admin import (
    admin_dir,
    existing_worktree,
    half_made,
    head_ref,
    loose_branch_tip,
    present_worktree,
    read_base,
    read_base_of,
    write_base,
)
from codex_runner.workspace.worktree_diff import (
    MAX_DIFF_BYTES,
    WorktreeDiffs,
    task_branch,
    task_repo,
)

_RECREATE = "the worktree was deleted; create the task's workspace again to restore it"
_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GitWorktrees:
    """Workspaces as git worktrees under ``root``; see :class:`~.protocol.Workspaces`.

    One caller at a time per task (the service owns a task's lifecycle); removals in one
    repository are serialised here because git locks the repository's config and refs.
    """

    def __init__(
        self,
        root: Path,
        *,
        timeout_s: float = GIT_TIMEOUT_S,
        max_diff_bytes: int = MAX_DIFF_BYTES,
        git: str = "git",
        clock: Callable[[], datetime] = _utcnow,
        push_branches: bool = False,
    ) -> None:
        """``push_branches``: each commit is pushed to the repository's ``origin`` and a task
        branch missing here is fetched from it first, so the task's work follows it to a
        host with its own clone (hosts sharing one store: docs/cluster.md)."""
        self.root = root.absolute()
        self._push_branches = push_branches
        self.max_diff_bytes = max_diff_bytes
        self._git = GitRunner(git, timeout_s=timeout_s)
        self._diffs = WorktreeDiffs(self._git, max_diff_bytes)
        self._clock = clock
        self._locks = RepoLocks()

    @property
    def timeout_s(self) -> float:
        """How long one git command may take."""
        return self._git.timeout_s

    # --- the Workspaces interface ----------------------------------------------------------

    async def validate(self, request: WorkspaceRequest) -> None:
        if request.cwd_path is not None:
            _require_directory(request.cwd_path)
            return
        assert request.repo_path is not None
        await resolve_repository(self._git, request.repo_path, request.base_ref or "HEAD")

    async def create(self, task_id: str, request: WorkspaceRequest) -> Workspace:
        _check_task_id(task_id)
        if request.cwd_path is not None:
            return Workspace(task_id, _require_directory(request.cwd_path), WorkspaceKind.DIRECTORY)
        assert request.repo_path is not None
        if (present := self._present(task_id, request.repo_path)) is not None:
            return present
        async with self._locks.hold(request.repo_path):
            return await self._create_locked(task_id, request)

    async def _create_locked(self, task_id: str, request: WorkspaceRequest) -> Workspace:
        assert request.repo_path is not None
        if self._push_branches:
            await self._fetch_branch(request.repo_path, branch_name(task_id))
        fresh = await self._add_fresh(task_id, request.repo_path, request.base_ref or "HEAD")
        if fresh is not None:
            return fresh
        repo = await resolve_repository(self._git, request.repo_path, request.base_ref or "HEAD")
        assert repo.commit is not None
        path = self.root / task_id
        branch = branch_name(task_id)
        admin = existing_worktree(path, repo, branch)
        if admin is not None:
            if not half_made(admin):
                return await self._recovered(task_id, path, repo, admin, repo.commit)
            # A create that crashed during checkout: the branch has no work yet; redo it.
            await self._undo_create(repo.top, path, branch, repo.commit)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            added = await self._git.run(
                ["worktree", "add", "--quiet", "-b", branch, str(path), repo.commit],
                cwd=repo.top,
                check=False,
            )
            if added.returncode != 0:
                if not await self._branch_exists_error(added, repo.top, branch):
                    raise failed(added, ["worktree", "add", "-b", branch, str(path)])
                # The branch outlived its worktree (deleted by hand, or pruned), or another
                # host sharing the repository ran the task before this one (its worktree
                # may still hold the branch: --force, it is not coming back to it).
                await self._git.run(["worktree", "prune"], cwd=repo.top)
                await self._git.run(
                    ["worktree", "add", "--quiet", "--force", str(path), branch], cwd=repo.top
                )
                admin = admin_dir(path)
                return await self._recovered(task_id, path, repo, admin, repo.commit)
            write_base(admin_dir(path), repo.commit)
        except BaseException:
            await asyncio.shield(self._undo_create(repo.top, path, branch, repo.commit))
            raise
        return _worktree(task_id, path, repo.top, repo.commit)

    async def locate(self, task_id: str, request: WorkspaceRequest) -> Workspace | None:
        _check_task_id(task_id)
        if request.cwd_path is not None:
            if not request.cwd_path.is_dir():
                return None
            return Workspace(task_id, request.cwd_path.resolve(), WorkspaceKind.DIRECTORY)
        assert request.repo_path is not None
        if (present := self._present(task_id, request.repo_path)) is not None:
            return present
        repo = await resolve_repository(self._git, request.repo_path, None)
        path = self.root / task_id
        admin = existing_worktree(path, repo, branch_name(task_id))
        if admin is None or half_made(admin):
            return None
        base = read_base(admin)
        if base is None and request.base_ref is not None:
            base = await self._diffs.merge_base(repo.top, branch_name(task_id), request.base_ref)
        return _worktree(task_id, path, repo.top, base)

    async def commit_changes(
        self, workspace: Workspace, message: str, author: GitIdentity = CODEX_RUNNER_IDENTITY
    ) -> DiffSummary | None:
        if not workspace.is_worktree:
            return None
        if not message.strip():
            raise ValueError("a commit message must not be empty")
        path, branch = workspace.path, task_branch(workspace)
        if not path.is_dir():
            raise DirectoryMissing(path, fix=_RECREATE)
        # The worktree's own HEAD file says what `git symbolic-ref HEAD` would, without a
        # git process on the way from a completed turn to its task's completion.
        head = head_ref(path)
        if head is None:
            asked = await self._git.run(["symbolic-ref", "--quiet", "HEAD"], cwd=path, check=False)
            head = asked.text.strip()
        if head != f"refs/heads/{branch}":
            raise NotOnTaskBranch(workspace, head.removeprefix("refs/heads/"))
        await self._git.run(["add", "--all"], cwd=path)
        staged = await self._git.run(["diff", "--cached", "--quiet"], cwd=path, check=False)
        if staged.returncode not in (0, 1):
            raise failed(staged, ["diff", "--cached", "--quiet"])
        if staged.returncode == 1:
            await self._git.run(
                [
                    "-c",
                    f"user.name={author.name}",
                    "-c",
                    f"user.email={author.email}",
                    "-c",
                    "commit.gpgSign=false",
                    "commit",
                    "--quiet",
                    "--no-verify",  # the repository's hooks judge merges, not our snapshots
                    "--message",
                    message,
                ],
                cwd=path,
            )
            if self._push_branches:
                await self._push(path, branch)
        return await self.diff_summary(workspace)

    async def _push(self, path: Path, branch: str) -> None:
        """The task branch to ``origin``; a failure is logged (the work is committed here)."""
        pushed = await self._git.run(
            ["push", "--quiet", "--force", "origin", f"refs/heads/{branch}"], cwd=path, check=False
        )
        if pushed.returncode != 0:
            log.warning("could not push %s to origin: %s", branch, pushed.stderr.strip()[:500])

    async def _fetch_branch(self, repo: Path, branch: str) -> None:
        """The task branch from ``origin`` when this clone lacks it (another host ran it)."""
        ref = f"refs/heads/{branch}"
        here = await self._git.run(["show-ref", "--verify", "--quiet", ref], cwd=repo, check=False)
        if here.returncode == 0:
            return  # never overwritten from origin: commits here may not be pushed yet
        await self._git.run(["fetch", "--quiet", "origin", f"{ref}:{ref}"], cwd=repo, check=False)

    async def diff(self, workspace: Workspace) -> str:
        return await self._diffs.diff(workspace)

    async def diff_summary(self, workspace: Workspace) -> DiffSummary | None:
        return await self._diffs.summary(workspace)

    async def remove(self, workspace: Workspace, *, force: bool = False) -> None:
        if not workspace.is_worktree:
            return
        repo, path, branch = task_repo(workspace), workspace.path, task_branch(workspace)
        if not repo.is_dir():
            # The repository (and the branch with it) is gone; only the directory is left.
            if not force:
                problem = f"it no longer exists (force deletes the orphaned worktree {path})"
                raise NotAGitRepository(repo, problem)
            if path.is_relative_to(self.root):
                await asyncio.to_thread(shutil.rmtree, path, True)
            return
        async with self._locks.hold(repo):
            tip = await self._diffs.tip(workspace)
            present = path.exists()
            if not force:
                await self._refuse_unmerged(workspace, tip, present)
            if present:
                forced = ["--force", "--force"] if force else []
                await self._git.run(["worktree", "remove", *forced, str(path)], cwd=repo)
            else:
                await self._git.run(["worktree", "prune"], cwd=repo)
            if tip is not None:
                await self._git.run(["branch", "--delete", "--force", branch], cwd=repo)

    async def check_remove(self, workspace: Workspace) -> None:
        if not workspace.is_worktree:
            return
        repo, path = task_repo(workspace), workspace.path
        if not repo.is_dir():
            problem = f"it no longer exists (force deletes the orphaned worktree {path})"
            raise NotAGitRepository(repo, problem)
        async with self._locks.hold(repo):
            await self._refuse_unmerged(workspace, await self._diffs.tip(workspace), path.exists())

    async def prune(self, repo: Path) -> None:
        top = await resolve_repository(self._git, repo, None)
        await self._git.run(["worktree", "prune"], cwd=top.top)

    async def gc(
        self, finished: Sequence[FinishedWorkspace], retention_s: float, *, force: bool = False
    ) -> GcReport:
        async def remove(ws: Workspace, force: bool) -> None:
            await self.remove(ws, force=force)

        return await collect_garbage(remove, finished, retention_s, now=self._clock(), force=force)

    # --- steps -----------------------------------------------------------------------------

    def _present(self, task_id: str, repo: Path) -> Workspace | None:
        """The task's worktree, when plain file reads show it whole; None to ask git.

        Every run of a task after its first finds its worktree made: confirming it from the
        files git itself reads (the worktree's ``.git`` link, its admin directory's HEAD and
        the recorded base) spares a follow-up a git process (a few ms) and gives the same
        answer. The base ref is not resolved again: the worktree's base is the one recorded
        when it was made, even if that ref has moved or gone since.
        """
        path = self.root / task_id
        base = present_worktree(path, repo, branch_name(task_id))
        if base is None:
            return None
        return _worktree(task_id, path, repo.resolve(), base)

    async def _add_fresh(self, task_id: str, repo: Path, ref: str) -> Workspace | None:
        """A new task's worktree in one git call: ``git worktree add`` resolves the base ref
        itself, and the commit it used is read back from the new branch.

        Every first run of a task makes its worktree; the ``git rev-parse`` the long way runs
        first (the repository was checked when the task was submitted) costs a process on
        that path. None, having made nothing, when the place or the branch is taken or the
        layout is unusual: the long way handles those. A bad ref or repository raises what
        the long way raises; any other failure (the place taken since it was checked too:
        git makes the branch first) undoes what the call made.
        """
        path, branch = self.root / task_id, branch_name(task_id)
        top = plain_top(repo)
        if top is None or _exists(path) or not ref.strip() or ref[0] == "-":
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        add = ["worktree", "add", "--quiet", "-b", branch, str(path), f"{ref}^{{commit}}"]
        try:
            added = await self._git.run(add, cwd=repo, check=False)
            if added.returncode != 0:
                if f"a branch named '{branch}' already exists" in added.stderr:
                    return None  # git checks that before it makes anything
                # A bad ref or repository: the error that names it.
                await resolve_repository(self._git, repo, ref)
                raise failed(added, add[:-1])
            base = loose_branch_tip(repo, branch) or await self._diffs.tip_of(repo, branch)
            if base is None:
                raise GitFailed(["rev-parse", branch], 1, "the new task branch is gone")
            write_base(admin_dir(path), base)
        except BaseException:
            await asyncio.shield(self._undo_fresh(repo, path, branch, ref))
            raise
        return _worktree(task_id, path, top, base)

    async def _undo_fresh(self, repo: Path, path: Path, branch: str, ref: str) -> None:
        """Remove what a failed :meth:`_add_fresh` made. As after the long way, the branch
        goes only while it is still at the base ref's commit: a branch that was there before
        (with work of its own) and was not ours to delete stays."""
        resolved = await self._git.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            cwd=repo,
            check=False,
        )
        base = resolved.text.strip() if resolved.returncode == 0 else ""
        await self._undo_create(repo, path, branch, base)

    async def _recovered(
        self, task_id: str, path: Path, repo: Repository, admin: Path, base_ref: str
    ) -> Workspace:
        """The workspace of a worktree made earlier, re-reading or re-deriving its base."""
        base = read_base(admin)
        if base is None:
            base = await self._diffs.merge_base(repo.top, branch_name(task_id), base_ref)
            if base is not None:
                write_base(admin, base)
        return _worktree(task_id, path, repo.top, base)

    async def _undo_create(self, repo: Path, path: Path, branch: str, base: str) -> None:
        """Remove what a failed create may have made; never touches work beyond ``base``."""
        if _exists(path):
            forced = ["worktree", "remove", "--force", "--force", str(path)]
            await self._git.run(forced, cwd=repo, check=False)
            if _exists(path):
                await asyncio.to_thread(shutil.rmtree, path, True)
        await self._git.run(["worktree", "prune"], cwd=repo, check=False)
        tip = await self._git.run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False
        )
        if tip.returncode == 0 and tip.text.strip() == base:
            await self._git.run(["branch", "--delete", "--force", branch], cwd=repo, check=False)

    async def _branch_exists_error(self, added: GitResult, repo: Path, branch: str) -> bool:
        if "already exists" not in added.stderr:
            return False
        exists = await self._git.run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False
        )
        return exists.returncode == 0

    async def _refuse_unmerged(self, workspace: Workspace, tip: str | None, present: bool) -> None:
        problems: list[str] = []
        if tip is not None:
            base = workspace.base_commit or (read_base_of(workspace.path))
            args = ["rev-list", "--count", tip, "^HEAD"] + ([f"^{base}"] if base else [])
            count = int((await self._git.run([*args, "--"], cwd=task_repo(workspace))).text.strip())
            if count:
                problems.append(
                    f"has {count} commit{'s' if count != 1 else ''} on {workspace.branch}"
                    " not merged into the repository's HEAD"
                )
        if present:
            status = await self._git.run(
                ["status", "--porcelain", "-z", "--untracked-files=normal"], cwd=workspace.path
            )
            if status.stdout:
                problems.append("has uncommitted changes")
        if problems:
            raise UnmergedWork(workspace, " and ".join(problems))


# --- helpers (pure, or plain file reads) -----------------------------------------------------


def _check_task_id(task_id: str) -> None:
    if not _TASK_ID.match(task_id):
        raise ValueError(
            f"task id {task_id!r} cannot name a worktree and a branch; use letters, digits,"
            " '_' and '-' (at most 128)"
        )


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _require_directory(cwd: Path) -> Path:
    if not cwd.is_dir():
        raise DirectoryMissing(cwd)
    return cwd.resolve()


def _worktree(task_id: str, path: Path, repo: Path, base: str | None) -> Workspace:
    return Workspace(
        task_id=task_id,
        path=path,
        kind=WorkspaceKind.WORKTREE,
        branch=branch_name(task_id),
        base_commit=base,
        repo=repo,
    )
