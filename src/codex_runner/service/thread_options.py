"""The Codex settings a task's turns run with: its thread's, and one turn's overrides."""

from __future__ import annotations

import os
from pathlib import Path

from codex_runner.codex.runtime import ThreadOptions, TurnOptions
from codex_runner.domain.task import Task
from codex_runner.domain.task_options import TurnOverrides


def thread_options(task: Task, cwd: os.PathLike[str] | str) -> ThreadOptions:
    """``task``'s model, effort, sandbox, approval policy and session options, in its
    workspace ``cwd``."""
    session = task.session
    return ThreadOptions(
        cwd=Path(cwd),
        model=task.settings.model,
        effort=task.settings.effort,
        sandbox=task.settings.sandbox,
        approval_policy=task.settings.approval_policy,
        developer_instructions=session.developer_instructions,
        base_instructions=session.base_instructions,
        personality=session.personality,
        service_tier=session.service_tier,
        model_provider=session.model_provider,
        config=session.config,
        ephemeral=session.ephemeral,
    )


def turn_options(overrides: TurnOverrides, workspace: os.PathLike[str] | str) -> TurnOptions | None:
    """One turn's overrides for the runtime (None when there are none); a turn's ``cwd`` is
    relative to the task's workspace."""
    if overrides.empty:
        return None
    return TurnOptions(
        model=overrides.model,
        effort=overrides.effort,
        summary=overrides.summary,
        sandbox=overrides.sandbox,
        approval_policy=overrides.approval_policy,
        cwd=Path(workspace) / overrides.cwd if overrides.cwd else None,
        output_schema=overrides.output_schema,
    )
