"""How a refused call reads to an agent: the problem, then what to do about it."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from codex_runner.mcp_server.backend import RunnerError

# What to do, by the API's error code; codes whose message already says it have none.
_FIXES: Mapping[str, str] = {
    "not_found": "check the id: list_tasks and list_approvals show the current ones",
    "invalid_request": "fix that argument and call again",
    "invalid_transition": (
        "get_task shows the task's state: send_message continues a completed or interrupted "
        "task, cancel_task ends one that is still active"
    ),
    "task_not_running": "steer_task needs a running turn; once the task stopped, use send_message",
    "decision_not_offered": "list_approvals shows the decisions each approval offers",
    "approval_settled": "it was decided already; get_task shows what became of the task",
    "idempotency_conflict": "use a new idempotency_key for different work",
    "workspace_error": "check that repo is a git repository (or cwd a directory) it can use",
    "unavailable": "try again in a moment",
    "store_busy": "try again in a moment",
    "home_unavailable": "try again once the runner's home is back",
}


def explain(error: RunnerError) -> str:
    """One line for a tool error: the problem, then the fix when the message lacks one."""
    fix = _FIXES.get(error.code)
    return f"{error.message} ({fix})" if fix else error.message


def invalid_arguments(exc: ValidationError) -> RunnerError:
    """The first bad argument, named, as the API names a bad field."""
    errors = exc.errors()
    if not errors:
        return RunnerError("invalid_request", "invalid arguments")
    field = ".".join(str(part) for part in errors[0]["loc"]) or "arguments"
    message = errors[0]["msg"]
    return RunnerError("invalid_request", f"argument {field!r}: {message}", field)
