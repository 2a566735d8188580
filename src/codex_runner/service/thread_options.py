"""The Codex thread settings a task's turns run with."""

from __future__ import annotations

import os
from pathlib import Path

from codex_runner.codex.runtime import ThreadOptions
from codex_runner.domain.task import Task


def thread_options(task: Task, cwd: os.PathLike[str] | str) -> ThreadOptions:
    """``task``'s model, effort, sandbox and approval policy, in its workspace ``cwd``."""
    return ThreadOptions(
        cwd=Path(cwd),
        model=task.settings.model,
        effort=task.settings.effort,
        sandbox=task.settings.sandbox,
        approval_policy=task.settings.approval_policy,
    )
