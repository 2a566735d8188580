"""``codex-runner gc``: remove finished tasks' worktrees that the daemon no longer needs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.daemon_session import UrlOption, daemon_session, request_body
from codex_runner.cli.render import print_model_json
from codex_runner.http.wire import GcBody

out = Console(highlight=False)


def human_bytes(value: int) -> str:
    """``value`` bytes in the largest binary unit that keeps it at 1 or more."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def gc_command(
    retention: Annotated[
        float | None,
        typer.Option(
            help="Remove worktrees of tasks finished longer ago than this many seconds "
            "(default: the service's worktree_retention_s).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Also remove branches with unmerged work.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be removed (with bytes); remove nothing."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """Garbage-collect finished tasks' worktrees (the daemon keeps unmerged work unless --force)."""
    body = request_body(
        GcBody,
        {"retention_s": retention, "force": force or None, "dry_run": dry_run or None},
        {"retention_s": "--retention"},
    )
    with daemon_session(url) as client:
        result = client.gc(body)
    if json_output:
        print_model_json(result)
        return
    would = "would remove" if result.dry_run else "removed"
    total = sum(w.bytes or 0 for w in result.removed_worktrees)
    out.print(f"{would} {len(result.removed)} worktree(s), {human_bytes(total)}")
    listed = {w.task_id for w in result.removed_worktrees}
    for worktree in result.removed_worktrees:
        deleted = "would be deleted" if result.dry_run else "deleted"
        branch = f" [dim](branch {escape(worktree.branch)} {deleted})[/]" if worktree.branch else ""
        size = f" [dim]{human_bytes(worktree.bytes)}[/]" if worktree.bytes is not None else ""
        line = f"  [green]-[/] {worktree.task_id} {escape(worktree.path)}{size}{branch}"
        out.print(line, soft_wrap=True)  # a path stays whole, to be copied
    for task_id in result.removed:  # a daemon that does not say where they were
        if task_id not in listed:
            out.print(f"  [green]-[/] {task_id}")
    if result.kept:
        out.print(f"kept {len(result.kept)}:")
    for kept in result.kept:
        detail = f" [dim]({escape(kept['detail'])})[/]" if kept.get("detail") else ""
        out.print(
            f"  [yellow]·[/] {escape(kept.get('task_id', '?'))}: "
            f"{escape(kept.get('reason', ''))}{detail}"
        )
