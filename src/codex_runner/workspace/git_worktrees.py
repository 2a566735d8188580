"""GitWorktrees: task workspaces as git worktrees, driven by the git CLI.

A task's worktree lives at ``<root>/<task-id>`` on branch ``codex-runner/<task-id>``. The
commit it was made from is written to ``codex-runner-base`` in the worktree's private admin
directory (``<repo>/.git/worktrees/<task-id>/``): git ignores that file, deletes it with the
worktree, and nobody else writes there, so concurrent creates in one repository do not
contend for a lock.

Creating costs one ``git rev-parse`` plus the ``git worktree add`` itself; nothing else runs
over the tree (``bench``: within ~1.2x of a bare ``git worktree add -b``).

Every git call runs with a timeout in its own process group (so hooks and filters die with
it), is always reaped, never prompts (no terminal, no askpass, no editor) and sees no git
variables leaked from a parent git process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.runner_home.file_modes import user_umask
from codex_runner.workspace.protocol import (
    CODEX_RUNNER_IDENTITY,
    DiffSummary,
    DirectoryMissing,
    FileStat,
    FinishedWorkspace,
    GcReport,
    GitFailed,
    GitIdentity,
    NotAGitRepository,
    NotOnTaskBranch,
    UnknownRef,
    UnmergedWork,
    Workspace,
    WorkspaceExists,
    WorkspaceKind,
    WorkspaceSpec,
    branch_name,
    collect_garbage,
)

GIT_TIMEOUT_S = 300.0  # a checkout of a very large repository, or a slow LFS filter
MAX_DIFF_BYTES = 32 * 1024 * 1024  # larger diffs are cut with a note
_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_MAX_STDERR_BYTES = 64 * 1024
BASE_FILE = "codex-runner-base"
_RECREATE = "the worktree was deleted; create the task's workspace again to restore it"
_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

# Variables a parent git process (say, a hook that started the runner) would leak into ours:
# they would point our commands at another repository, index or identity.
_LEAKED_GIT_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_CONFIG_PARAMETERS",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)
_QUIET_GIT = {
    "GIT_TERMINAL_PROMPT": "0",  # never ask for credentials on a terminal
    "GIT_ASKPASS": "",
    "SSH_ASKPASS_REQUIRE": "never",
    "GCM_INTERACTIVE": "never",
    "GIT_EDITOR": "true",  # never open an editor (commits always pass -m)
    "GIT_OPTIONAL_LOCKS": "0",  # read-only commands do not take the index lock
    "LC_ALL": "C",  # stable messages
}


def git_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git call runs with."""
    env = dict(os.environ if base is None else base)
    for name in _LEAKED_GIT_VARIABLES:
        env.pop(name, None)
    env.update(_QUIET_GIT)
    return env


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _GitResult:
    returncode: int
    stdout: bytes
    stderr: str
    truncated: bool

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Repository:
    top: Path
    common_dir: Path
    commit: str | None  # the base ref's commit, when one was asked for


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read to EOF keeping the first ``cap`` bytes (the rest is drained so git never blocks)."""
    if stream is None:
        return b"", False
    chunks: list[bytes] = []
    kept = 0
    truncated = False
    while chunk := await stream.read(256 * 1024):
        room = cap - kept
        if room > 0:
            chunks.append(chunk[:room])
            kept += min(room, len(chunk))
        truncated = truncated or len(chunk) > room
    return b"".join(chunks), truncated


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
    ) -> None:
        self.root = root.absolute()
        self.timeout_s = timeout_s
        self.max_diff_bytes = max_diff_bytes
        self._git = git
        self._clock = clock
        self._env = git_environment()
        self._repo_locks: dict[Path, asyncio.Lock] = {}

    # --- the Workspaces interface ----------------------------------------------------------

    async def validate(self, spec: WorkspaceSpec) -> None:
        if spec.cwd is not None:
            _require_directory(spec.cwd)
            return
        assert spec.repo is not None
        await self._repository(spec.repo, spec.base_ref or "HEAD")

    async def create(self, task_id: str, spec: WorkspaceSpec) -> Workspace:
        _check_task_id(task_id)
        if spec.cwd is not None:
            return Workspace(task_id, _require_directory(spec.cwd), WorkspaceKind.DIRECTORY)
        assert spec.repo is not None
        repo = await self._repository(spec.repo, spec.base_ref or "HEAD")
        assert repo.commit is not None
        path = self.root / task_id
        branch = branch_name(task_id)
        admin = _existing_worktree(path, repo, branch)
        if admin is not None:
            if not _half_made(admin):
                return await self._recovered(task_id, path, repo, admin, repo.commit)
            # A create that crashed during checkout: the branch has no work yet; redo it.
            await self._undo_create(repo.top, path, branch, repo.commit)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            added = await self._run(
                ["worktree", "add", "--quiet", "-b", branch, str(path), repo.commit],
                cwd=repo.top,
                check=False,
            )
            if added.returncode != 0:
                if not await self._branch_exists_error(added, repo.top, branch):
                    raise _failed(added, ["worktree", "add", "-b", branch, str(path)])
                # The branch outlived its worktree (deleted by hand, or pruned): reattach it.
                await self._run(["worktree", "prune"], cwd=repo.top)
                await self._run(["worktree", "add", "--quiet", str(path), branch], cwd=repo.top)
                admin = _admin_dir(path)
                return await self._recovered(task_id, path, repo, admin, repo.commit)
            _write_base(_admin_dir(path), repo.commit)
        except BaseException:
            await asyncio.shield(self._undo_create(repo.top, path, branch, repo.commit))
            raise
        return _worktree(task_id, path, repo.top, repo.commit)

    async def locate(self, task_id: str, spec: WorkspaceSpec) -> Workspace | None:
        _check_task_id(task_id)
        if spec.cwd is not None:
            if not spec.cwd.is_dir():
                return None
            return Workspace(task_id, spec.cwd.resolve(), WorkspaceKind.DIRECTORY)
        assert spec.repo is not None
        repo = await self._repository(spec.repo, None)
        path = self.root / task_id
        admin = _existing_worktree(path, repo, branch_name(task_id))
        if admin is None or _half_made(admin):
            return None
        base = _read_base(admin)
        if base is None and spec.base_ref is not None:
            base = await self._merge_base(repo.top, branch_name(task_id), spec.base_ref)
        return _worktree(task_id, path, repo.top, base)

    async def commit_changes(
        self, workspace: Workspace, message: str, author: GitIdentity = CODEX_RUNNER_IDENTITY
    ) -> DiffSummary | None:
        if not workspace.is_worktree:
            return None
        if not message.strip():
            raise ValueError("a commit message must not be empty")
        path, branch = workspace.path, _branch(workspace)
        if not path.is_dir():
            raise DirectoryMissing(path, fix=_RECREATE)
        head = await self._run(["symbolic-ref", "--quiet", "HEAD"], cwd=path, check=False)
        if head.text.strip() != f"refs/heads/{branch}":
            raise NotOnTaskBranch(workspace, head.text.strip().removeprefix("refs/heads/"))
        await self._run(["add", "--all"], cwd=path)
        staged = await self._run(["diff", "--cached", "--quiet"], cwd=path, check=False)
        if staged.returncode not in (0, 1):
            raise _failed(staged, ["diff", "--cached", "--quiet"])
        if staged.returncode == 1:
            await self._run(
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
        return await self.diff_summary(workspace)

    async def diff(self, workspace: Workspace) -> str:
        if not workspace.is_worktree:
            return ""
        base = await self._base(workspace)
        common = ["--no-color", "--no-ext-diff", "--find-renames", "--src-prefix=a/"]
        common.append("--dst-prefix=b/")
        if not workspace.path.is_dir():
            tip = await self._tip(workspace)
            result = await self._run(
                ["diff", *common, base, tip or base, "--"],
                cwd=_repo(workspace),
                max_output=self.max_diff_bytes,
                cut_ok=True,
            )
        else:
            result = await self._diff_worktree(workspace.path, base, common)
        text = result.text
        if result.truncated:
            text += f"\n[diff cut at {self.max_diff_bytes} bytes; see `git diff` in the worktree]\n"
        return text

    async def diff_summary(self, workspace: Workspace) -> DiffSummary | None:
        if not workspace.is_worktree:
            return None
        base = await self._base(workspace)
        tip = await self._tip(workspace)
        if tip is None:
            raise GitFailed(["rev-parse", _branch(workspace)], 1, "the task branch is gone")
        numstat = await self._run(
            ["diff", "--numstat", "-z", "--no-color", "--no-ext-diff", "--find-renames", base, tip],
            cwd=_repo(workspace),
        )
        return DiffSummary.of_files(tip, _parse_numstat(numstat.stdout))

    async def remove(self, workspace: Workspace, *, force: bool = False) -> None:
        if not workspace.is_worktree:
            return
        repo, path, branch = _repo(workspace), workspace.path, _branch(workspace)
        if not repo.is_dir():
            # The repository (and the branch with it) is gone; only the directory is left.
            if not force:
                problem = f"it no longer exists (force deletes the orphaned worktree {path})"
                raise NotAGitRepository(repo, problem)
            if path.is_relative_to(self.root):
                await asyncio.to_thread(shutil.rmtree, path, True)
            return
        lock = self._repo_locks.setdefault(repo, asyncio.Lock())
        async with lock:
            tip = await self._tip(workspace)
            present = path.exists()
            if not force:
                await self._refuse_unmerged(workspace, tip, present)
            if present:
                forced = ["--force", "--force"] if force else []
                await self._run(["worktree", "remove", *forced, str(path)], cwd=repo)
            else:
                await self._run(["worktree", "prune"], cwd=repo)
            if tip is not None:
                await self._run(["branch", "--delete", "--force", branch], cwd=repo)

    async def prune(self, repo: Path) -> None:
        top = await self._repository(repo, None)
        await self._run(["worktree", "prune"], cwd=top.top)

    async def gc(
        self, finished: Sequence[FinishedWorkspace], retention_s: float, *, force: bool = False
    ) -> GcReport:
        async def remove(ws: Workspace, force: bool) -> None:
            await self.remove(ws, force=force)

        return await collect_garbage(remove, finished, retention_s, now=self._clock(), force=force)

    # --- steps -----------------------------------------------------------------------------

    async def _repository(self, repo: Path, ref: str | None) -> _Repository:
        """The repository's top level and common git dir, and ``ref``'s commit (one call)."""
        _require_repository_directory(repo)
        if ref is not None and (not ref.strip() or ref.startswith("-")):
            raise UnknownRef(repo, ref)
        args = ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]
        if ref is not None:
            args += ["--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
        result = await self._run(args, cwd=repo, check=False)
        lines = result.text.splitlines()
        if result.returncode not in (0, 1) or len(lines) < 2:
            problem = result.stderr.strip().removeprefix("fatal: ") or "git rev-parse failed"
            raise NotAGitRepository(repo, problem)
        top = Path(lines[0])
        if not _same_directory(top, repo):
            raise NotAGitRepository(repo, f"it is inside the repository {top}, not its top level")
        if result.returncode == 1 or (ref is not None and len(lines) < 3):
            if ref == "HEAD":
                raise NotAGitRepository(repo, "it has no commits yet")
            raise UnknownRef(repo, ref or "HEAD")
        commit = lines[2] if ref is not None else None
        return _Repository(top=top, common_dir=Path(lines[1]), commit=commit)

    async def _recovered(
        self, task_id: str, path: Path, repo: _Repository, admin: Path, base_ref: str
    ) -> Workspace:
        """The workspace of a worktree made earlier, re-reading or re-deriving its base."""
        base = _read_base(admin)
        if base is None:
            base = await self._merge_base(repo.top, branch_name(task_id), base_ref)
            if base is not None:
                _write_base(admin, base)
        return _worktree(task_id, path, repo.top, base)

    async def _undo_create(self, repo: Path, path: Path, branch: str, base: str) -> None:
        """Remove what a failed create may have made; never touches work beyond ``base``."""
        if _exists(path):
            forced = ["worktree", "remove", "--force", "--force", str(path)]
            await self._run(forced, cwd=repo, check=False)
            if _exists(path):
                await asyncio.to_thread(shutil.rmtree, path, True)
        await self._run(["worktree", "prune"], cwd=repo, check=False)
        tip = await self._run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False
        )
        if tip.returncode == 0 and tip.text.strip() == base:
            await self._run(["branch", "--delete", "--force", branch], cwd=repo, check=False)

    async def _branch_exists_error(self, added: _GitResult, repo: Path, branch: str) -> bool:
        if "already exists" not in added.stderr:
            return False
        exists = await self._run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, check=False
        )
        return exists.returncode == 0

    async def _refuse_unmerged(self, workspace: Workspace, tip: str | None, present: bool) -> None:
        problems: list[str] = []
        if tip is not None:
            base = workspace.base_commit or (_read_base_of(workspace.path))
            args = ["rev-list", "--count", tip, "^HEAD"] + ([f"^{base}"] if base else [])
            count = int((await self._run([*args, "--"], cwd=_repo(workspace))).text.strip())
            if count:
                problems.append(
                    f"has {count} commit{'s' if count != 1 else ''} on {workspace.branch}"
                    " not merged into the repository's HEAD"
                )
        if present:
            status = await self._run(
                ["status", "--porcelain", "-z", "--untracked-files=normal"], cwd=workspace.path
            )
            if status.stdout:
                problems.append("has uncommitted changes")
        if problems:
            raise UnmergedWork(workspace, " and ".join(problems))

    async def _diff_worktree(self, path: Path, base: str, common: list[str]) -> _GitResult:
        """Diff base..worktree including untracked files, without touching the real index.

        The worktree's files are staged into a copy of its index (kept beside it so a split
        index still finds its shared part), and the copy is diffed against ``base``.
        """
        admin = _admin_dir(path)
        scratch = admin / f"codex-runner-diff-index-{os.getpid()}-{id(path)}"
        try:
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(admin / "index", scratch)
            env = {"GIT_INDEX_FILE": str(scratch)}
            await self._run(["add", "--all"], cwd=path, env=env)
            return await self._run(
                ["diff", "--cached", *common, base, "--"],
                cwd=path,
                env=env,
                max_output=self.max_diff_bytes,
                cut_ok=True,
            )
        finally:
            scratch.unlink(missing_ok=True)

    async def _base(self, workspace: Workspace) -> str:
        if workspace.base_commit is not None:
            return workspace.base_commit
        base = _read_base_of(workspace.path)
        if base is None:
            base = await self._merge_base(_repo(workspace), _branch(workspace), "HEAD")
        if base is None:
            raise GitFailed(
                ["merge-base", _branch(workspace), "HEAD"], 1, "the task's base commit is unknown"
            )
        return base

    async def _tip(self, workspace: Workspace) -> str | None:
        result = await self._run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{_branch(workspace)}^{{commit}}"],
            cwd=_repo(workspace),
            check=False,
        )
        return result.text.strip() if result.returncode == 0 else None

    async def _merge_base(self, repo: Path, branch: str, ref: str) -> str | None:
        result = await self._run(["merge-base", f"refs/heads/{branch}", ref], cwd=repo, check=False)
        return result.text.strip() if result.returncode == 0 else None

    # --- running git -----------------------------------------------------------------------

    async def _run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        check: bool = True,
        env: dict[str, str] | None = None,
        max_output: int = _MAX_OUTPUT_BYTES,
        cut_ok: bool = False,
    ) -> _GitResult:
        """Run ``git -C cwd args``: own process group, a timeout, always reaped.

        Output beyond ``max_output`` is dropped; unless ``cut_ok`` that is an error.
        """
        argv = [self._git, "-C", str(cwd), *args]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**self._env, **env} if env else self._env,
                start_new_session=True,  # a kill reaches hooks and filters too
                umask=user_umask(),  # a checkout has the user's modes, not the daemon's
            )
        except FileNotFoundError as exc:
            raise GitFailed(args, 127, f"{self._git} not found: install git") from exc
        stderr = b""
        try:
            async with asyncio.timeout(self.timeout_s):
                (stdout, truncated), (stderr, _) = await asyncio.gather(
                    _read_capped(proc.stdout, max_output),
                    _read_capped(proc.stderr, _MAX_STDERR_BYTES),
                )
                returncode = await proc.wait()
        except TimeoutError:
            raise GitFailed(args, None, f"no answer within {self.timeout_s:g}s") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        result = _GitResult(returncode, stdout, stderr.decode("utf-8", "replace"), truncated)
        if check and (returncode != 0 or (truncated and not cut_ok)):
            raise _failed(result, args)
        return result


# --- helpers (pure, or plain file reads) -----------------------------------------------------


def _check_task_id(task_id: str) -> None:
    if not _TASK_ID.match(task_id):
        raise ValueError(
            f"task id {task_id!r} cannot name a worktree and a branch; use letters, digits,"
            " '_' and '-' (at most 128)"
        )


def _require_repository_directory(repo: Path) -> None:
    if not repo.exists():
        raise NotAGitRepository(repo, "it does not exist")
    if not repo.is_dir():
        raise NotAGitRepository(repo, "it is not a directory")


def _same_directory(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


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


def _repo(workspace: Workspace) -> Path:
    if workspace.repo is None:
        raise ValueError(f"worktree workspace of task {workspace.task_id} has no repo")
    return workspace.repo


def _branch(workspace: Workspace) -> str:
    return workspace.branch or branch_name(workspace.task_id)


def _admin_dir(path: Path) -> Path:
    """The worktree's private git dir, from the ``gitdir:`` line of its ``.git`` file."""
    text = (path / ".git").read_text().strip()
    if not text.startswith("gitdir: "):
        raise WorkspaceExists(path, "its .git is not a worktree's link to a repository")
    admin = Path(text.removeprefix("gitdir: "))
    return admin if admin.is_absolute() else (path / admin).resolve()


def _existing_worktree(path: Path, repo: _Repository, branch: str) -> Path | None:
    """The admin dir of the task's worktree already at ``path``; None if ``path`` is free.

    Raises WorkspaceExists if something else is there.
    """
    if not path.exists() and not path.is_symlink():
        return None
    if not (path / ".git").is_file():
        raise WorkspaceExists(path, "it exists and is not a git worktree")
    admin = _admin_dir(path)
    if admin.parent.resolve() != (repo.common_dir / "worktrees").resolve():
        raise WorkspaceExists(path, f"it is a worktree of another repository ({admin})")
    if not admin.is_dir():
        raise WorkspaceExists(path, f"its repository no longer knows it ({admin} is missing)")
    if _half_made(admin):
        return admin
    head = (admin / "HEAD").read_text().strip()
    if head != f"ref: refs/heads/{branch}":
        raise WorkspaceExists(path, f"its HEAD is {head!r}, not branch {branch}")
    return admin


def _half_made(admin: Path) -> bool:
    # `git worktree add` locks a worktree with reason "initializing" until its checkout ends.
    try:
        return (admin / "locked").read_text().startswith("initializing")
    except OSError:
        return False


def _write_base(admin: Path, commit: str) -> None:
    (admin / BASE_FILE).write_text(commit + "\n")


def _read_base(admin: Path) -> str | None:
    try:
        return (admin / BASE_FILE).read_text().strip() or None
    except OSError:
        return None


def _read_base_of(path: Path) -> str | None:
    try:
        return _read_base(_admin_dir(path))
    except (OSError, WorkspaceExists):
        return None


def _failed(result: _GitResult, args: Sequence[str]) -> GitFailed:
    return GitFailed(args, result.returncode, result.stderr)


def _parse_numstat(raw: bytes) -> list[FileStat]:
    """Parse ``git diff --numstat -z``: ``ins\\tdel\\tpath\\0`` or, for a rename,
    ``ins\\tdel\\t\\0old\\0new\\0``; binary files show ``-`` for both counts."""
    fields = raw.split(b"\0")
    stats: list[FileStat] = []
    i = 0
    while i < len(fields) and fields[i]:
        ins, dels, path = fields[i].split(b"\t", 2)
        old: str | None = None
        if path:
            name = os.fsdecode(path)
            i += 1
        else:
            old, name = os.fsdecode(fields[i + 1]), os.fsdecode(fields[i + 2])
            i += 3
        binary = ins == b"-"
        stats.append(
            FileStat(
                path=name,
                insertions=0 if binary else int(ins),
                deletions=0 if binary else int(dels),
                binary=binary,
                old_path=old,
            )
        )
    return stats
