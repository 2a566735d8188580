"""``codex-runner hosts``: the hosts sharing the store, and ``hosts drain ID`` (it claims no
new work, e.g. before an upgrade; ``--undo`` reopens it)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.http.wire_hosts import HostList

hosts_app = typer.Typer(
    name="hosts", help="The hosts sharing the store (several serve processes on one database)."
)
out = Console(highlight=False)

HOST_COLUMNS = (
    Column("HOST"),
    Column("STATE"),
    Column("BEAT"),
    Column("RUNNING"),
    Column("CAPACITY", drop_rank=2),
    Column("VERSION", drop_rank=1),
    Column("HOSTNAME", Fit.SHORTEN, min_width=8, drop_rank=3),
)


def print_hosts(hosts: HostList, json_output: bool) -> None:
    if json_output:
        print_model_json(hosts)
        return
    rows = [
        (
            h.id + (" *" if h.this_host else ""),
            "dead" if h.dead_at else ("draining" if h.draining else "live"),
            f"{h.heartbeat_age_s:.1f}s ago",
            str(h.running),
            str(h.capacity),
            h.version,
            h.hostname,
        )
        for h in hosts.hosts
    ]
    print_table(out, HOST_COLUMNS, rows, empty="no hosts (no serve has started on this store)")


JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


@hosts_app.callback(invoke_without_command=True)
def list_hosts(ctx: typer.Context, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Every host: live, draining or dead, its heartbeat's age, running tasks, capacity and
    version; * marks the one that answered."""
    if ctx.invoked_subcommand is not None:
        return
    with daemon_session(url) as client:
        print_hosts(client.hosts(), json_output)


@hosts_app.command("drain")
def drain(
    host_id: Annotated[str, typer.Argument(help="The host's id (`codex-runner hosts`).")],
    undo: Annotated[bool, typer.Option("--undo", help="Let it claim work again.")] = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Stop a host claiming new work (its running tasks go on); it notices at its next beat."""
    with daemon_session(url) as client:
        print_hosts(client.drain_host(host_id, undo=undo), json_output)
