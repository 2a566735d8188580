"""``codex-runner disk``: bytes and files per kind of what the runner writes, free space on
its home's file system, and the disk policy (``--check`` runs its check now)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.gc_cmd import human_bytes
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.http.wire_disk import DiskCheckOut

out = Console(highlight=False)

KIND_COLUMNS = (Column("KIND"), Column("BYTES"), Column("SIZE"), Column("FILES"))
CANDIDATE_COLUMNS = (
    Column("OUTCOME"),
    Column("RULE"),
    Column("SIZE"),
    Column("TASK", drop_rank=1),
    Column("PATH", Fit.SHORTEN, min_width=12),
    Column("WHY", Fit.SHORTEN, min_width=12, drop_rank=2),
)


def disk_command(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Run the disk policy's check now and list its candidates (in dry-run it "
            "removes nothing).",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """What the runner's files take per kind, and free space on its home's file system."""
    with daemon_session(url) as client:
        if check:
            result = client.disk_check()
            if json_output:
                print_model_json(result)
            else:
                print_check(result)
            return
        disk = client.disk()
    if json_output:
        print_model_json(disk)
        return
    rows = [
        (k.kind, str(k.bytes), human_bytes(k.bytes) + ("" if k.complete else "+"), str(k.files))
        for k in disk.kinds
    ]
    rows.append(("total", str(disk.total_bytes), human_bytes(disk.total_bytes), ""))
    print_table(out, KIND_COLUMNS, rows)
    policy = disk.policy
    mode = "dry-run: reports, removes nothing" if policy.dry_run else "removes"
    out.print(
        f"free {human_bytes(disk.free_bytes)} on the home's file system; the policy acts below "
        f"{human_bytes(policy.min_free_bytes)} until {human_bytes(policy.target_free_bytes)} "
        f"is free ({mode})"
    )
    if disk.last_check is not None and disk.last_check.low:
        out.print("[yellow]the last check found free space below the minimum[/]")


def print_check(check: DiskCheckOut) -> None:
    state = "below the minimum" if check.low else "enough"
    after = "would be" if check.dry_run else "is"
    out.print(
        f"free {human_bytes(check.free_bytes)} ({state}); after the check {after} "
        f"{human_bytes(check.free_after)}"
        + (" [dim](dry-run: nothing removed)[/]" if check.dry_run else "")
    )
    if not check.candidates:
        return
    rows = [
        (
            c.outcome,
            c.rule,
            human_bytes(c.bytes),
            c.task_id or "",
            c.path,
            c.detail,
        )
        for c in check.candidates
    ]
    print_table(out, CANDIDATE_COLUMNS, rows)
