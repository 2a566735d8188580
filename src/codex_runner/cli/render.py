"""Terminal rendering of canonical events: a readable live view, or JSON lines."""

from __future__ import annotations

import json
import sys

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from codex_runner.domain.durable_event import CODEX_PREFIX, STATE_CHANGE_TYPES, EventType, TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, ItemType

MAX_OUTPUT_LINES = 15


def print_json_event(event: CodexEvent) -> None:
    sys.stdout.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
    sys.stdout.flush()


class LiveView:
    """One line (or panel) per meaningful event; streaming deltas are not shown."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    def __call__(self, event: CodexEvent) -> None:
        c = self.console
        kind = event.kind
        if kind is EventKind.THREAD_STARTED:
            c.print(f"[dim]thread {event.thread_id}[/]")
        elif kind is EventKind.THREAD_RESUMED:
            c.print(f"[dim]resumed thread {event.thread_id}[/]")
        elif kind in (EventKind.THREAD_REPLACED, EventKind.WARNING):
            c.print(f"[yellow]! {escape(event.message or '')}[/]")
        elif kind is EventKind.TURN_STARTED:
            c.print(f"[dim]turn {event.turn_id} started[/]")
        elif kind is EventKind.TURN_STEERED:
            c.print(f"[cyan]» steered:[/] {escape(event.message or '')}")
        elif kind is EventKind.ITEM_STARTED and event.item is not None:
            if event.item.type is ItemType.COMMAND_EXECUTION:
                c.print(Text.assemble(("$ ", "bold cyan"), (event.item.command or "", "cyan")))
        elif kind is EventKind.ITEM_COMPLETED and event.item is not None:
            self._item(event)
        elif kind is EventKind.APPROVAL_REQUESTED and event.approval is not None:
            a = event.approval
            what = a.command or ", ".join(ch.path for ch in a.changes) or a.reason or a.kind
            c.print(f"[bold yellow]? approval requested ({a.kind}):[/] {escape(what)}")
        elif kind is EventKind.APPROVAL_RESOLVED:
            c.print(f"[yellow]  decision: {escape(event.decision or '')}[/]")
        elif kind is EventKind.ERROR and event.error is not None:
            retry = " (Codex retries)" if event.error.will_retry else ""
            c.print(f"[red]error{retry}: {escape(event.error.message)}[/]")
        elif kind is EventKind.TURN_COMPLETED:
            tokens = event.usage.total_tokens if event.usage else 0
            c.print(f"[bold green]✓ turn completed[/] [dim]({tokens} tokens)[/]")
        elif kind is EventKind.TURN_FAILED:
            reason = event.error.message if event.error else "unknown reason"
            cls = f" ({event.error.failure_class})" if event.error else ""
            c.print(f"[bold red]✗ turn failed{cls}:[/] {escape(reason)}")
        elif kind is EventKind.TURN_INTERRUPTED:
            c.print("[bold yellow]■ turn interrupted[/]")

    def _item(self, event: CodexEvent) -> None:
        item = event.item
        assert item is not None
        c = self.console
        if item.type is ItemType.AGENT_MESSAGE and item.text:
            c.print(
                Panel(Markdown(item.text), title="codex", title_align="left", border_style="blue")
            )
        elif item.type is ItemType.REASONING and item.text:
            c.print(Text(item.text, style="dim italic"))
        elif item.type is ItemType.COMMAND_EXECUTION:
            code = item.exit_code
            style = "green" if code == 0 else "red"
            lines = (item.output or "").rstrip().splitlines()
            shown = lines[-MAX_OUTPUT_LINES:]
            if len(lines) > len(shown):
                c.print(f"[dim]  … {len(lines) - len(shown)} more lines[/]")
            for line in shown:
                c.print(Text("  " + line, style="dim"))
            shown_code = code if code is not None else "?"
            c.print(f"[{style}]  exit {shown_code}[/] [dim]{item.status or ''}[/]")
        elif item.type is ItemType.FILE_CHANGE:
            for change in item.changes:
                c.print(f"[magenta]✎ {change.kind} {escape(change.path)}[/]")


# --- daemon client output ----------------------------------------------------------------

STATE_STYLES = {
    "queued": "dim",
    "running": "cyan",
    "awaiting_approval": "bold yellow",
    "interrupted": "yellow",
    "completed": "bold green",
    "failed": "bold red",
    "cancelled": "red",
}
# The runner's own approval events carry the approval id people decide with; Codex's copies
# of the same request would print it twice.
_SKIPPED_CODEX_KINDS = frozenset({EventKind.APPROVAL_REQUESTED, EventKind.APPROVAL_RESOLVED})


def error_exit(message: str, code: int = 1) -> typer.Exit:
    """Print one ``error:`` line to stderr (as ``fail`` does) and return the exit to raise."""
    Console(stderr=True, highlight=False).print(
        f"[red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True
    )
    return typer.Exit(code)


def print_model_json(model: BaseModel) -> None:
    """One API model as one line of JSON on stdout."""
    sys.stdout.write(model.model_dump_json() + "\n")
    sys.stdout.flush()


def styled_state(state: str) -> str:
    return f"[{STATE_STYLES.get(state, 'white')}]{escape(state)}[/]"


class TaskEventView:
    """Readable lines for a task's durable events: runner events (state changes, messages,
    approvals) plus the Codex events inside them, drawn as :class:`LiveView` draws them."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._codex = LiveView(self.console)

    def __call__(self, event: TaskEvent) -> None:
        c = self.console
        data = event.data
        if event.type.startswith(CODEX_PREFIX):
            try:
                codex = event.codex_event()
            except (ValueError, KeyError, TypeError):
                c.print(f"[dim]{escape(event.type)}[/]")
                return
            if codex is not None and codex.kind not in _SKIPPED_CODEX_KINDS:
                self._codex(codex)
        elif event.type in STATE_CHANGE_TYPES:
            to = str(data.get("to", "?"))
            reason = f" [dim]({escape(str(data['reason']))})[/]" if data.get("reason") else ""
            note = " [dim]after a restart[/]" if event.type == EventType.TASK_RECONCILED else ""
            c.print(f"→ {styled_state(to)}{note}{reason}")
        elif event.type == EventType.TASK_CREATED:
            prompt = _one_line(str(data.get("prompt", "")), 120)
            c.print(f"[dim]task {escape(event.task_id)} created:[/] {escape(prompt)}")
        elif event.type == EventType.TASK_MESSAGE_RECEIVED:
            c.print(f"[cyan]» message:[/] {escape(str(data.get('text', '')))}")
        elif event.type == EventType.GRAPH_CREATED:
            children = ", ".join(str(k) for k in dict(data.get("children") or {}))
            c.print(f"[dim]graph {escape(str(data.get('graph_id', '')))}: {escape(children)}[/]")
        elif event.type == EventType.APPROVAL_REQUESTED:
            self._approval_requested(data)
        elif event.type == EventType.APPROVAL_DECIDED:
            by = f" by {data['by']}" if data.get("by") else ""
            c.print(
                f"[yellow]  approval {escape(str(data.get('approval_id', '')))}: "
                f"{escape(str(data.get('decision', '')))}{escape(by)}[/]"
            )
        elif event.type == EventType.APPROVAL_EXPIRED:
            c.print(f"[yellow]  approval {escape(str(data.get('approval_id', '')))} expired[/]")
        else:
            c.print(f"[dim]{escape(event.type)}[/]")

    def _approval_requested(self, data: dict[str, object]) -> None:
        approval_id = str(data.get("approval_id", ""))
        changes = data.get("changes")
        paths = (
            ", ".join(str(ch.get("path", "")) for ch in changes if isinstance(ch, dict))
            if isinstance(changes, list)
            else ""
        )
        what = str(data.get("command") or paths or data.get("reason") or "")
        offered = data.get("available_decisions")
        decisions = "|".join(str(d) for d in offered) if isinstance(offered, list) else "DECISION"
        self.console.print(
            f"[bold yellow]? approval {escape(approval_id)} ({escape(str(data.get('kind', '')))})"
            f":[/] {escape(what)}"
        )
        self.console.print(
            f"[dim]  decide: codex-runner approvals decide {escape(approval_id)} "
            f"{escape(decisions)}[/]"
        )


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
