"""Where tasks run: git worktrees on ``codex-runner/<task-id>`` branches, or plain directories.

The service talks to :class:`Workspaces` only. :class:`InMemoryWorkspaces` is the test double;
``codex_runner.workspace.git_worktrees.GitWorktrees`` is the real one (the git CLI).
"""

from codex_runner.workspace.memory import InMemoryWorkspaces
from codex_runner.workspace.protocol import (
    CODEX_RUNNER_IDENTITY,
    DiffSummary,
    DirectoryMissing,
    FileStat,
    FinishedWorkspace,
    GcReport,
    GitFailed,
    GitIdentity,
    KeepReason,
    KeptWorkspace,
    NotAGitRepository,
    NotOnTaskBranch,
    UnknownRef,
    UnmergedWork,
    Workspace,
    WorkspaceError,
    WorkspaceExists,
    WorkspaceKind,
    Workspaces,
    branch_name,
)

__all__ = [
    "CODEX_RUNNER_IDENTITY",
    "DiffSummary",
    "DirectoryMissing",
    "FileStat",
    "FinishedWorkspace",
    "GcReport",
    "GitFailed",
    "GitIdentity",
    "InMemoryWorkspaces",
    "KeepReason",
    "KeptWorkspace",
    "NotAGitRepository",
    "NotOnTaskBranch",
    "UnknownRef",
    "UnmergedWork",
    "Workspace",
    "WorkspaceError",
    "WorkspaceExists",
    "WorkspaceKind",
    "Workspaces",
    "branch_name",
]
