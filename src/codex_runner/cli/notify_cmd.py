"""``codex-runner notify deliveries``: the webhook outbox (docs/notifications.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.http.wire_notify import DeliveryList, DeliveryOut

notify_app = typer.Typer(name="notify", help="Notifications: the webhook deliveries.")
out = Console(highlight=False)

DELIVERY_COLUMNS = (
    Column("ID"),
    Column("KIND"),
    Column("STATE"),
    Column("WEBHOOK", Fit.SHORTEN, min_width=8, drop_rank=2),
    Column("FOR", drop_rank=3),
    Column("TRIES"),
    Column("LAST", Fit.SHORTEN, min_width=10, drop_rank=1),
)


def _last(delivery: DeliveryOut) -> str:
    if not delivery.attempts:
        return "-"
    last = delivery.attempts[-1]
    said = str(last.status_code) if last.status_code is not None else (last.error or "?")
    if delivery.next_attempt_at is not None:
        said += f"; next {delivery.next_attempt_at:%H:%M:%S}"
    return said


def print_deliveries(found: DeliveryList, json_output: bool) -> None:
    if json_output:
        print_model_json(found)
        return
    rows = [
        (
            d.id,
            d.kind,
            d.state,
            d.webhook or d.url,
            d.order_key,
            str(len(d.attempts)),
            _last(d),
        )
        for d in found.deliveries
    ]
    print_table(out, DELIVERY_COLUMNS, rows, empty="no deliveries")


@notify_app.command("deliveries")
def deliveries(
    status: Annotated[
        Literal["pending", "delivered", "given_up"] | None,
        typer.Option("--status", help="Only these: pending, delivered or given_up."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """The outbox, newest first: each notification's state, tries and the last answer."""
    with daemon_session(url) as client:
        print_deliveries(client.deliveries(status, limit), json_output)
