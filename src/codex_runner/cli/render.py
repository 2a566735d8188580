"""Terminal rendering of canonical events: a readable live view, or JSON lines."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from codex_runner.cli.status_line import StatusLine
from codex_runner.cli.streamed_items import StreamedItems
from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import CODEX_PREFIX, STATE_CHANGE_TYPES, EventType, TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, ItemType

MAX_OUTPUT_LINES = 15


def print_json_event(event: CodexEvent) -> None:
    sys.stdout.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
    sys.stdout.flush()


class LiveView:
    """One line (or panel) per meaningful event, and the live deltas of items still
    streaming (:meth:`delta`): the answer as it grows, which its completion then does not
    print again, and command output as it comes. ``status``, when given, is the spinner
    that shows the command running now (drawn on a terminal only)."""

    def __init__(self, console: Console | None = None, *, status: StatusLine | None = None) -> None:
        self.console = console or Console(highlight=False)
        # Without a spinner of the caller's, one that is never drawn.
        self.status = status if status is not None else StatusLine(self.console, drawn=False)
        self._streamed = StreamedItems(self.console, self.status)

    def print(self, *objects: RenderableType, **options: Any) -> None:
        """Print below whatever streamed so far (an answer's open line is ended first)."""
        self._streamed.break_line()
        self.console.print(*objects, **options)

    def delta(self, delta: Delta) -> None:
        """A live piece of an item still streaming."""
        self._streamed.add(delta)

    def pause(self) -> None:
        """Leave the terminal to someone else for a moment: any open line ended, the
        spinner off until ``status.resume()``."""
        self._streamed.break_line()
        self.status.pause()

    def end(self) -> None:
        """The stream ended: take the spinner off and end any line left open."""
        self.status.close()
        self._streamed.break_line()

    def __call__(self, event: CodexEvent) -> None:
        kind = event.kind
        if kind is EventKind.THREAD_STARTED:
            self.print(f"[dim]thread {event.thread_id}[/]")
        elif kind is EventKind.THREAD_RESUMED:
            self.print(f"[dim]resumed thread {event.thread_id}[/]")
        elif kind in (EventKind.THREAD_REPLACED, EventKind.WARNING):
            self.print(f"[yellow]! {escape(event.message or '')}[/]")
        elif kind is EventKind.TURN_STARTED:
            self.print(f"[dim]turn {event.turn_id} started[/]")
        elif kind is EventKind.TURN_STEERED:
            self.print(f"[cyan]» steered:[/] {escape(event.message or '')}")
        elif kind is EventKind.ITEM_STARTED and event.item is not None:
            if event.item.type is ItemType.COMMAND_EXECUTION:
                self.print(Text.assemble(("$ ", "bold cyan"), (event.item.command or "", "cyan")))
                self.status.set_command(event.item.command or "")
        elif kind is EventKind.ITEM_COMPLETED and event.item is not None:
            self._item(event)
        elif kind is EventKind.APPROVAL_REQUESTED and event.approval is not None:
            self.status.set_command(None)  # it waits for a person, it does not run
            a = event.approval
            what = a.command or ", ".join(ch.path for ch in a.changes) or a.reason or a.kind
            self.print(f"[bold yellow]? approval requested ({a.kind}):[/] {escape(what)}")
        elif kind is EventKind.APPROVAL_RESOLVED:
            self.print(f"[yellow]  decision: {escape(event.decision or '')}[/]")
        elif kind is EventKind.ERROR and event.error is not None:
            retry = " (Codex retries)" if event.error.will_retry else ""
            self.print(f"[red]error{retry}: {escape(event.error.message)}[/]")
        if kind in _TURN_ENDS:
            self.status.set_command(None)
            self._streamed.forget()
        if kind is EventKind.TURN_COMPLETED:
            tokens = event.usage.total_tokens if event.usage else 0
            self.print(f"[bold green]✓ turn completed[/] [dim]({tokens} tokens)[/]")
        elif kind is EventKind.TURN_FAILED:
            reason = event.error.message if event.error else "unknown reason"
            cls = f" ({event.error.failure_class})" if event.error else ""
            self.print(f"[bold red]✗ turn failed{cls}:[/] {escape(reason)}")
        elif kind is EventKind.TURN_INTERRUPTED:
            self.print("[bold yellow]■ turn interrupted[/]")

    def _item(self, event: CodexEvent) -> None:
        item = event.item
        assert item is not None
        if item.type is ItemType.AGENT_MESSAGE and item.text:
            if self._streamed.finish_answer(item.id, item.text):
                return
            self.print(
                Panel(Markdown(item.text), title="codex", title_align="left", border_style="blue")
            )
        elif item.type is ItemType.REASONING and item.text:
            self.print(Text(item.text, style="dim italic"))
        elif item.type is ItemType.COMMAND_EXECUTION:
            self.status.set_command(None)
            code = item.exit_code
            style = "green" if code == 0 else "red"
            unprinted = self._streamed.finish_output(item.id, item.output or "")
            lines = (item.output or "").rstrip().splitlines() if unprinted is None else unprinted
            shown = lines[-MAX_OUTPUT_LINES:]
            if len(lines) > len(shown):
                self.print(f"[dim]  … {len(lines) - len(shown)} more lines[/]")
            for line in shown:
                self.print(Text("  " + line, style="dim"))
            shown_code = code if code is not None else "?"
            self.print(f"[{style}]  exit {shown_code}[/] [dim]{item.status or ''}[/]")
        elif item.type is ItemType.FILE_CHANGE:
            for change in item.changes:
                self.print(f"[magenta]✎ {change.kind} {escape(change.path)}[/]")


_TURN_ENDS = frozenset(
    {EventKind.TURN_COMPLETED, EventKind.TURN_FAILED, EventKind.TURN_INTERRUPTED}
)


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

    def __init__(self, console: Console | None = None, *, status: StatusLine | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._codex = LiveView(self.console, status=status)

    def delta(self, delta: Delta) -> None:
        """A live piece of an item still streaming (see :class:`LiveView`)."""
        self._codex.delta(delta)

    def end(self) -> None:
        self._codex.end()

    def __call__(self, event: TaskEvent) -> None:
        c = self._codex  # its print ends an answer's open line first
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
        self._codex.print(
            f"[bold yellow]? approval {escape(approval_id)} ({escape(str(data.get('kind', '')))})"
            f":[/] {escape(what)}"
        )
        self._codex.print(
            f"[dim]  decide: codex-runner approvals decide {escape(approval_id)} "
            f"{escape(decisions)}[/]"
        )


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
