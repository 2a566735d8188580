"""``codex-runner approvals ...``: the approvals Codex is waiting on, and deciding them."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.approvals import PERMANENT_RULE_DECISION, PERMANENT_RULE_NOTE
from codex_runner.cli.daemon_session import UrlOption, daemon_session, request_body
from codex_runner.cli.id_prefix import resolve_approval_id
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.http.wire import ApprovalOut, DecisionBody

approvals_app = typer.Typer(
    name="approvals",
    help="List and decide the approvals Codex is waiting on.",
    no_args_is_help=True,
)
out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
APPROVAL_COLUMNS = (
    Column("ID"),
    Column("TASK"),
    Column("KIND"),
    Column("COMMAND / FILES", Fit.WRAP, min_width=24),
    Column("CWD", Fit.SHORTEN, min_width=12, drop_rank=1),
    Column("DECISIONS", Fit.WRAP, min_width=16),
)


@approvals_app.command("list")
def list_approvals(json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Pending approvals, with the decisions each one offers."""
    with daemon_session(url) as client:
        result = client.approvals("pending")
    if json_output:
        print_model_json(result)
        return
    rows = [
        (
            a.id,
            a.task_id,
            a.kind,
            what_is_asked(a),
            a.cwd or "",
            ", ".join(a.available_decisions),
        )
        for a in result.approvals
    ]
    print_table(out, APPROVAL_COLUMNS, rows, empty="no pending approvals")
    if any(PERMANENT_RULE_DECISION in a.available_decisions for a in result.approvals):
        # Below the table on a terminal; on stderr in a pipe, so the lines stay the table's.
        note = out if out.is_terminal else Console(stderr=True, highlight=False)
        note.print(f"[yellow]note:[/] {PERMANENT_RULE_NOTE}")


@approvals_app.command("decide")
def decide(
    approval_id: Annotated[
        str,
        typer.Argument(help="The approval's id, or any unique prefix of it.", show_default=False),
    ],
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
        approval = client.decide(resolve_approval_id(client, approval_id), body)
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
