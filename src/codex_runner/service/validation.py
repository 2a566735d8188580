"""Checks on what callers submit, before anything is written; each error names the field.

Every adapter (HTTP API, CLI through it, Slack) reaches these through the service; the API's
request models call the same checks, so a value is judged by one rule wherever it comes from.
The checks take ``object``: a JSON value that is the wrong type (``true`` for a number, ``"5"``
for an integer) is refused here, never coerced.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

from codex_runner.domain.model_names import MODEL_NAME_MAX, resolve_model
from codex_runner.domain.task import (
    REASONING_EFFORTS,
    InvalidWorkspaceRequest,
    RuntimeSettings,
    Task,
    WorkspaceRequest,
)
from codex_runner.domain.task_options import shown
from codex_runner.service.errors import InvalidRequest
from codex_runner.workspace.protocol import (
    DirectoryMissing,
    NotAGitRepository,
    UnknownRef,
    Workspaces,
)

PRIORITY_MIN, PRIORITY_MAX = -1000, 1000
MAX_RUNTIME_LIMIT_S = 7 * 24 * 3600.0  # a week


def workspace_request(repo: str | None, base_ref: str | None, cwd: str | None) -> WorkspaceRequest:
    """A git workspace (``repo`` at ``base_ref``, default HEAD) or a directory (``cwd``).

    Raises InvalidRequest naming the field when the request breaks the domain's shape rule
    (exactly one of ``repo`` and ``cwd``; ``base_ref`` only with ``repo``).
    """
    try:
        if repo is not None and cwd is None:
            return WorkspaceRequest.git(repo, base_ref or "HEAD")
        return WorkspaceRequest(repo=repo, base_ref=base_ref, cwd=cwd)
    except InvalidWorkspaceRequest as exc:
        raise InvalidRequest(exc.field, str(exc)) from exc


def resolved_workspace(workspace: WorkspaceRequest) -> WorkspaceRequest:
    """The workspace with its path checked (absolute, no control characters) and resolved.

    ``..`` and symbolic links are resolved, for a repository and a directory alike, so the
    task stores (and later runs in) the directory that was checked, not a name that may
    point elsewhere by then. Touches only the file system's names: nothing is created.
    """
    field = "repo" if workspace.is_git else "cwd"
    path = workspace.repo if workspace.is_git else workspace.cwd
    if path is None or not os.path.isabs(path):
        raise InvalidRequest(field, f"{field} {path!r} must be an absolute path")
    for name, value in ((field, path), ("base_ref", workspace.base_ref)):
        # A NUL cannot reach a path or a git argument; other control characters in a path
        # or ref are a mistake (a pasted newline), never a name someone meant.
        if value is not None and _has_control_character(value):
            raise InvalidRequest(name, f"{name} {value!r} contains a control character; remove it")
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError) as exc:  # a symlink loop, a name too long
        raise InvalidRequest(field, f"{field} {path!r} cannot be resolved: {exc}") from exc
    return replace(workspace, repo=real) if workspace.is_git else replace(workspace, cwd=real)


async def check_workspace(workspaces: Workspaces, workspace: WorkspaceRequest) -> WorkspaceRequest:
    """The workspace, resolved (see :func:`resolved_workspace`), once it is known it could be
    made: an absolute repo (and ref) or an existing directory."""
    workspace = resolved_workspace(workspace)
    field = "repo" if workspace.is_git else "cwd"
    path = workspace.repo if workspace.is_git else workspace.cwd
    try:
        await workspaces.validate(workspace)
    except NotAGitRepository as exc:
        raise InvalidRequest("repo", str(exc)) from exc
    except UnknownRef as exc:
        raise InvalidRequest("base_ref", str(exc)) from exc
    except DirectoryMissing as exc:
        raise InvalidRequest("cwd", str(exc)) from exc
    except OSError as exc:  # e.g. a name too long for the file system
        raise InvalidRequest(
            field, f"{field} {path!r} cannot be used: {exc.strerror or exc}; pass another path"
        ) from exc
    return workspace


def check_priority(value: object, field: str = "priority") -> int:
    """An integer from -1000 to 1000 (higher runs first); not a bool, a float or a string."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not PRIORITY_MIN <= value <= PRIORITY_MAX
    ):
        raise InvalidRequest(
            field,
            f"{field} must be an integer from {PRIORITY_MIN} to {PRIORITY_MAX} "
            f"(higher runs first), not {shown(value)}",
        )
    return value


def check_max_runtime(value: object) -> float | None:
    """None (the default), or a positive finite number of seconds up to a week."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidRequest(
            "max_runtime_s",
            f"max_runtime_s must be a positive finite number of seconds, not {shown(value)}",
        )
    if value > MAX_RUNTIME_LIMIT_S:
        raise InvalidRequest(
            "max_runtime_s",
            f"max_runtime_s must be at most {MAX_RUNTIME_LIMIT_S:.0f} seconds (a week), "
            f"not {shown(value)}",
        )
    return float(value)


def check_model(value: object) -> str | None:
    """None (the configured default), or a model name: one line of at most 200 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            "model",
            f"model must be a model name such as 'gpt-5.1-codex', not {shown(value)}; "
            "omit it for the configured default",
        )
    if len(value) > MODEL_NAME_MAX:
        raise InvalidRequest(
            "model", f"model is {len(value)} characters long; a name has at most {MODEL_NAME_MAX}"
        )
    if _has_control_character(value):
        raise InvalidRequest(
            "model", f"model {shown(value)} contains a control character (a newline?); remove it"
        )
    return value


def check_effort(value: object) -> str | None:
    """None (the configured default), or one of the reasoning efforts Codex knows."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in REASONING_EFFORTS:
        raise InvalidRequest(
            "effort", f"effort must be one of {', '.join(REASONING_EFFORTS)}, not {shown(value)}"
        )
    return value


def check_settings(
    settings: RuntimeSettings, aliases: Mapping[str, str] | None = None
) -> RuntimeSettings:
    """The Codex settings a task asks for (model and effort; sandbox and approval policy are
    typed by their callers), with a model alias (``[codex.models]``) replaced by the model
    it stands for: the task stores, and Codex is told, the real name."""
    check_model(settings.model)
    check_effort(settings.effort)
    model = resolve_model(settings.model, aliases or {})
    return settings if model == settings.model else replace(settings, model=model)


def check_images(images: Sequence[str]) -> tuple[str, ...]:
    for image in images:
        if not os.path.isabs(image) or not os.path.isfile(image):
            raise InvalidRequest(
                "images", f"image {image!r} is not an existing file given by absolute path"
            )
    return tuple(images)


def _has_control_character(value: str) -> bool:
    return any(ord(c) < 32 or c == "\x7f" for c in value)


def commit_message(task: Task, turn_number: int) -> str:
    title = task.prompt.strip().splitlines()[0][:72] if task.prompt.strip() else task.id
    return f"{title}\n\ncodex-runner task {task.id}, turn {turn_number}"
