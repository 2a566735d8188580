"""A CLI command's link to the daemon: the ``--url`` option, one client per command, and
request bodies built from flags (a refused value names its flag)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_address import URL_ENV
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.cli.render import error_exit

M = TypeVar("M", bound=BaseModel)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"The daemon's URL (default: ${URL_ENV}, the running daemon, then the "
        "configured service host and port).",
        show_default=False,
    ),
]


@contextmanager
def daemon_session(url: str | None = None) -> Iterator[DaemonClient]:
    """A connected client for one CLI command; a ClientError ends the command with its one
    line on stderr and exit status 1."""
    try:
        with DaemonClient.connect(url) as client:
            yield client
    except ClientError as exc:
        raise error_exit(str(exc), 1) from None


def request_body(model: type[M], values: dict[str, Any], names: dict[str, str]) -> M:
    """``model`` from the values a user gave (unset ones left to the server's defaults); a
    value the API contract refuses is a usage error naming the flag (``names``: field to
    flag) with exit status 2."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        flag = names.get(field, "--" + field.replace("_", "-"))
        raise error_exit(f"{flag}: {first['msg']}", 2) from None
