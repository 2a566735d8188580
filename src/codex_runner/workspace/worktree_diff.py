"""What a task's worktree changed: its diff against its base (the worktree's files, untracked
ones too, or the branch when the worktree is gone) and the summary of its branch's commits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from codex_runner.workspace.git_process import GitResult, GitRunner
from codex_runner.workspace.numstat import parse_numstat
from codex_runner.workspace.protocol import DiffSummary, GitFailed, Workspace, branch_name
from codex_runner.workspace.worktree_admin import admin_dir, loose_branch_tip, read_base_of

MAX_DIFF_BYTES = 32 * 1024 * 1024  # larger diffs are cut with a note


class WorktreeDiffs:
    def __init__(self, git: GitRunner, max_diff_bytes: int = MAX_DIFF_BYTES) -> None:
        self._git = git
        self.max_diff_bytes = max_diff_bytes

    async def diff(self, workspace: Workspace) -> str:
        if not workspace.is_worktree:
            return ""
        base = await self.base(workspace)
        common = ["--no-color", "--no-ext-diff", "--find-renames", "--src-prefix=a/"]
        common.append("--dst-prefix=b/")
        if not workspace.path.is_dir():
            tip = await self.tip(workspace)
            result = await self._git.run(
                ["diff", *common, base, tip or base, "--"],
                cwd=task_repo(workspace),
                max_output=self.max_diff_bytes,
                cut_ok=True,
            )
        else:
            result = await self._diff_worktree(workspace.path, base, common)
        text = result.text
        if result.truncated:
            text += f"\n[diff cut at {self.max_diff_bytes} bytes; see `git diff` in the worktree]\n"
        return text

    async def summary(self, workspace: Workspace) -> DiffSummary | None:
        if not workspace.is_worktree:
            return None
        base = await self.base(workspace)
        tip = await self.tip(workspace)
        if tip is None:
            raise GitFailed(["rev-parse", task_branch(workspace)], 1, "the task branch is gone")
        numstat = await self._git.run(
            ["diff", "--numstat", "-z", "--no-color", "--no-ext-diff", "--find-renames", base, tip],
            cwd=task_repo(workspace),
        )
        return DiffSummary.of_files(tip, parse_numstat(numstat.stdout))

    async def _diff_worktree(self, path: Path, base: str, common: list[str]) -> GitResult:
        """Diff base..worktree including untracked files, without touching the real index.

        The worktree's files are staged into a copy of its index (kept beside it so a split
        index still finds its shared part), and the copy is diffed against ``base``.
        """
        admin = admin_dir(path)
        scratch = admin / f"codex-runner-diff-index-{os.getpid()}-{id(path)}"
        try:
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(admin / "index", scratch)
            env = {"GIT_INDEX_FILE": str(scratch)}
            await self._git.run(["add", "--all"], cwd=path, env=env)
            return await self._git.run(
                ["diff", "--cached", *common, base, "--"],
                cwd=path,
                env=env,
                max_output=self.max_diff_bytes,
                cut_ok=True,
            )
        finally:
            scratch.unlink(missing_ok=True)

    async def base(self, workspace: Workspace) -> str:
        if workspace.base_commit is not None:
            return workspace.base_commit
        base = read_base_of(workspace.path)
        if base is None:
            base = await self.merge_base(task_repo(workspace), task_branch(workspace), "HEAD")
        if base is None:
            raise GitFailed(
                ["merge-base", task_branch(workspace), "HEAD"],
                1,
                "the task's base commit is unknown",
            )
        return base

    async def tip(self, workspace: Workspace) -> str | None:
        # The task branch's loose ref (where each of our commits leaves it) spares a git
        # process on the way from a completed turn to its task's completion.
        tip = loose_branch_tip(task_repo(workspace), task_branch(workspace))
        return (
            tip
            if tip is not None
            else await self.tip_of(task_repo(workspace), task_branch(workspace))
        )

    async def tip_of(self, repo: Path, branch: str) -> str | None:
        """The branch's commit, as git says it; None when there is no such branch."""
        result = await self._git.run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
            cwd=repo,
            check=False,
        )
        return result.text.strip() if result.returncode == 0 else None

    async def merge_base(self, repo: Path, branch: str, ref: str) -> str | None:
        result = await self._git.run(
            ["merge-base", f"refs/heads/{branch}", ref], cwd=repo, check=False
        )
        return result.text.strip() if result.returncode == 0 else None


def task_repo(workspace: Workspace) -> Path:
    if workspace.repo is None:
        raise ValueError(f"worktree workspace of task {workspace.task_id} has no repo")
    return workspace.repo


def task_branch(workspace: Workspace) -> str:
    return workspace.branch or branch_name(workspace.task_id)
