"""Terminal rendering of canonical events: a readable live view, or JSON lines."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

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
