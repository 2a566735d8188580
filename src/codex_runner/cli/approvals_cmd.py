"""``codex-runner approvals ...``: the approvals Codex is waiting on, and deciding them."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codex_runner.api.schemas import ApprovalOut, DecisionBody
from codex_runner.cli.client import UrlOption, daemon_session, request_body
from codex_runner.cli.render import print_model_json

approvals_app = typer.Typer(
    name="approvals",
    help="List and decide the approvals Codex is waiting on.",
    no_args_is_help=True,
)
out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


@approvals_app.command("list")
def list_approvals(json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Pending approvals, with the decisions each one offers."""
    with daemon_session(url) as client:
        result = client.approvals("pending")
    if json_output:
        print_model_json(result)
        return
    if not result.approvals:
        out.print("[dim]no pending approvals[/]")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "TASK", "KIND", "COMMAND / FILES", "CWD", "DECISIONS"):
        table.add_column(column, no_wrap=column in ("ID", "TASK", "KIND"), overflow="fold")
    for a in result.approvals:
        table.add_row(
            a.id,
            a.task_id,
            a.kind,
            escape(what_is_asked(a)),
            escape(a.cwd or ""),
            escape(", ".join(a.available_decisions)),
        )
    out.print(table)


@approvals_app.command("decide")
def decide(
    approval_id: Annotated[str, typer.Argument(help="The approval's id.", show_default=False)],
    decision: Annotated[
        str, typer.Argument(help="One of the decisions it offers (see `approvals list`).")
    ],
    by: Annotated[
        str | None, typer.Option(help="Who decides, for the log (default: your user name).")
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Answer an approval; the daemon checks the decision is one it offers."""
    body = request_body(
        DecisionBody,
        {"decision": decision, "by": by or _user_name()},
        {"decision": "DECISION", "by": "--by"},
    )
    with daemon_session(url) as client:
        approval = client.decide(approval_id, body)
    if json_output:
        print_model_json(approval)
        return
    who = f" by {approval.decided_by}" if approval.decided_by else ""
    out.print(
        f"approval [bold]{approval.id}[/] ({escape(approval.kind)}, task {approval.task_id}): "
        f"{escape(approval.decision or approval.state)}{escape(who)}"
    )


def what_is_asked(approval: ApprovalOut) -> str:
    if approval.command:
        return approval.command
    if approval.changes:
        return ", ".join(f"{c.kind} {c.path}" for c in approval.changes)
    return approval.reason or ""


def _user_name() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
