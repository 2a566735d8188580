"""Request fields shaped into the service's values (workspace, Codex settings)."""

from __future__ import annotations

from codex_runner.domain.task import RuntimeSettings, Workspace
from codex_runner.service.errors import InvalidRequest


def workspace_of(repo: str | None, base_ref: str | None, cwd: str | None) -> Workspace:
    """A git workspace (``repo`` at ``base_ref``, default HEAD) or a directory (``cwd``).

    Raises InvalidRequest naming the field when not exactly one of ``repo`` and ``cwd`` is set.
    """
    if repo is not None and cwd is not None:
        raise InvalidRequest(
            "cwd",
            "give either repo (a git repository: the task gets its own worktree) or cwd "
            "(a plain directory: the task runs in place), not both",
        )
    if repo is not None:
        return Workspace.git(repo, base_ref or "HEAD")
    if cwd is None:
        raise InvalidRequest(
            "repo", "say where the task runs: repo (a git repository) or cwd (a directory)"
        )
    if base_ref is not None:
        raise InvalidRequest("base_ref", "base_ref only applies with repo, not with cwd")
    return Workspace.directory(cwd)


def settings_of(
    model: str | None, effort: str | None, sandbox: str | None, approval_policy: str | None
) -> RuntimeSettings:
    return RuntimeSettings(
        model=model, effort=effort, sandbox=sandbox, approval_policy=approval_policy
    )
