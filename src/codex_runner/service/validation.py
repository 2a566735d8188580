"""Checks on what callers submit, before anything is written; each error names the field."""

from __future__ import annotations

import os
from collections.abc import Sequence

from codex_runner.domain.task import Task, Workspace
from codex_runner.service.errors import InvalidRequest
from codex_runner.workspace.protocol import (
    DirectoryMissing,
    NotAGitRepository,
    UnknownRef,
    Workspaces,
    WorkspaceSpec,
)


async def check_workspace(workspaces: Workspaces, workspace: Workspace) -> None:
    """The workspace could be made: an absolute repo (and ref) or an existing directory."""
    field = "repo" if workspace.is_git else "cwd"
    path = workspace.repo if workspace.is_git else workspace.cwd
    if path is None or not os.path.isabs(path):
        raise InvalidRequest(field, f"{field} {path!r} must be an absolute path")
    for name, value in ((field, path), ("base_ref", workspace.base_ref)):
        # A NUL cannot reach a path or a git argument; other control characters in a path
        # or ref are a mistake (a pasted newline), never a name someone meant.
        if value is not None and any(ord(c) < 32 or c == "\x7f" for c in value):
            raise InvalidRequest(name, f"{name} {value!r} contains a control character; remove it")
    try:
        await workspaces.validate(WorkspaceSpec.of_task(workspace))
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


def check_max_runtime(max_runtime_s: float | None) -> None:
    if max_runtime_s is not None and max_runtime_s <= 0:
        raise InvalidRequest(
            "max_runtime_s",
            f"max_runtime_s must be a positive number of seconds, not {max_runtime_s}",
        )


def check_images(images: Sequence[str]) -> tuple[str, ...]:
    for image in images:
        if not os.path.isabs(image) or not os.path.isfile(image):
            raise InvalidRequest(
                "images", f"image {image!r} is not an existing file given by absolute path"
            )
    return tuple(images)


def commit_message(task: Task, turn_number: int) -> str:
    title = task.prompt.strip().splitlines()[0][:72] if task.prompt.strip() else task.id
    return f"{title}\n\ncodex-runner task {task.id}, turn {turn_number}"
