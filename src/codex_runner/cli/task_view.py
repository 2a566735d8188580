"""A task as the task commands show it: its state line, everything ``task show`` knows
(settings, the session options that are set, purpose, metadata, prompt, answer, result), its
age and workspace in ``task list``, and the colours of its diff."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from codex_runner.cli.render import print_model_json, styled_state
from codex_runner.http.wire_tasks import TaskOut


def print_task_state(out: Console, task: TaskOut, json_output: bool) -> None:
    if json_output:
        print_model_json(task)
        return
    reason = f" [dim]({escape(task.reason)})[/]" if task.reason else ""
    pending = (
        f"\n[dim]pending message:[/] {escape(short(task.pending_message, 100))}"
        if task.pending_message
        else ""
    )
    out.print(f"task [bold]{task.id}[/]: {styled_state(task.state)}{reason}{pending}")


def render_task(out: Console, task: TaskOut) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    reason = f" ({escape(task.reason)})" if task.reason else ""
    rows: list[tuple[str, str | None]] = [
        ("id", task.id),
        ("state", styled_state(task.state) + reason),
        ("priority", str(task.priority)),
        ("purpose", task.purpose),
        ("metadata", _pairs(task.metadata)),
        ("repo", task.repo),
        ("base ref", task.base_ref),
        ("branch", task.branch),
        ("cwd", task.cwd),
        ("runtime", task.runtime),
        ("model", " ".join(x for x in (task.model, task.effort) if x) or None),
        ("provider", task.model_provider),
        ("service tier", task.service_tier),
        ("personality", task.personality),
        ("sandbox", task.sandbox),
        ("approvals", task.approval_policy),
        ("config", _pairs({k: json.dumps(v) for k, v in task.config.items()})),
        ("ephemeral", "yes" if task.ephemeral else None),
        ("graph", " ".join(x for x in (task.graph_id, task.key) if x) or None),
        ("parent", task.parent_id),
        ("depends on", ", ".join(task.depends_on) or None),
        ("created", task.created_at.isoformat(timespec="seconds")),
        ("started", task.started_at.isoformat(timespec="seconds") if task.started_at else None),
        (
            "finished",
            task.finished_at.isoformat(timespec="seconds") if task.finished_at else None,
        ),
        ("attempts", str(task.attempts)),
        ("thread", task.thread_id),
        (
            "tokens",
            f"{task.usage.total_tokens} (in {task.usage.input_tokens}, "
            f"out {task.usage.output_tokens})",
        ),
        ("idempotency", task.idempotency_key),
        ("pending", task.pending_message),
        ("changes", task.diff_summary),
    ]
    for name, value in rows:
        if value is not None:
            grid.add_row(name, value if name == "state" else escape(value))
    out.print(grid)
    out.print(Panel(escape(task.prompt), title="prompt", title_align="left", border_style="dim"))
    for name in ("developer_instructions", "base_instructions"):
        text = getattr(task, name)
        if text:
            title = name.replace("_", " ")
            out.print(Panel(escape(text), title=title, title_align="left", border_style="dim"))
    if task.final_message:
        out.print(
            Panel(
                Markdown(task.final_message),
                title="final message",
                title_align="left",
                border_style="blue",
            )
        )
    if task.has_result:
        shown = json.dumps(task.result, indent=2, ensure_ascii=False)
        out.print(
            Panel(Syntax(shown, "json"), title="result", title_align="left", border_style="green")
        )


def workspace_label(task: TaskOut) -> str:
    if task.repo:
        return f"{_tilde(task.repo)} @ {task.branch}" if task.branch else _tilde(task.repo)
    return _tilde(task.cwd or "")


def task_root(task: TaskOut) -> str | None:
    """Where the daemon looks for a follow-up's files: the task's directory or repository
    (a repo task's worktree holds the same paths)."""
    return task.cwd or task.repo


def age(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def diff_style(line: str) -> str:
    if line.startswith(("diff --git", "+++", "---", "index ")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return ""


def short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _pairs(values: dict[str, str]) -> str | None:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or None


def _tilde(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home + "/") else path
