"""DirectoryWorkspaces: tasks run in place in a directory; no git, nothing to commit or remove.

For embedders that only ever run tasks in directories (the Slack bridge's session folders,
tests). The daemon uses GitWorktrees, which handles directories the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.protocol import (
    CODEX_RUNNER_IDENTITY,
    DiffSummary,
    DirectoryMissing,
    FinishedWorkspace,
    GcReport,
    GitIdentity,
    KeepReason,
    KeptWorkspace,
    NotAGitRepository,
    Workspace,
    WorkspaceKind,
)


class DirectoryWorkspaces:
    async def validate(self, request: WorkspaceRequest) -> None:
        if request.repo_path is not None:
            raise NotAGitRepository(
                request.repo_path,
                "this runner only runs tasks in directories; pass cwd instead of repo",
            )
        assert request.cwd_path is not None
        if not request.cwd_path.is_dir():
            raise DirectoryMissing(request.cwd_path)

    async def create(self, task_id: str, request: WorkspaceRequest) -> Workspace:
        await self.validate(request)
        assert request.cwd_path is not None
        return Workspace(task_id, request.cwd_path.absolute(), WorkspaceKind.DIRECTORY)

    async def locate(self, task_id: str, request: WorkspaceRequest) -> Workspace | None:
        if request.cwd_path is None or not request.cwd_path.is_dir():
            return None
        return Workspace(task_id, request.cwd_path.absolute(), WorkspaceKind.DIRECTORY)

    async def commit_changes(
        self, workspace: Workspace, message: str, author: GitIdentity = CODEX_RUNNER_IDENTITY
    ) -> DiffSummary | None:
        return None

    async def diff(self, workspace: Workspace) -> str:
        return ""

    async def diff_summary(self, workspace: Workspace) -> DiffSummary | None:
        return None

    async def remove(self, workspace: Workspace, *, force: bool = False) -> None:
        return None

    async def check_remove(self, workspace: Workspace) -> None:
        return None

    async def prune(self, repo: Path) -> None:
        return None

    async def gc(
        self, finished: Sequence[FinishedWorkspace], retention_s: float, *, force: bool = False
    ) -> GcReport:
        kept = tuple(
            KeptWorkspace(f.workspace, KeepReason.DIRECTORY, "a plain directory is never deleted")
            for f in finished
        )
        return GcReport(kept=kept)
