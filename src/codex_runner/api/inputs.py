"""Request fields shaped into the service's values (Codex settings; the workspace fields go
through :func:`codex_runner.service.validation.workspace_request`)."""

from __future__ import annotations

from codex_runner.domain.task import RuntimeSettings


def settings_of(
    model: str | None, effort: str | None, sandbox: str | None, approval_policy: str | None
) -> RuntimeSettings:
    return RuntimeSettings(
        model=model, effort=effort, sandbox=sandbox, approval_policy=approval_policy
    )
