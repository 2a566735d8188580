"""``codex-runner task attach``: open the Codex TUI on a task's thread.

The TUI talks to the runner's own app-server (``codex resume --remote ADDRESS THREAD``), so
the person and the runner share one Codex: what the person does there becomes the task's
turns, and approvals answered there are not answered again. The daemon keeps the thread
followed while the TUI runs; the attachment ends when it exits.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from typing import Annotated

import typer

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.id_prefix import resolve_task_id
from codex_runner.cli.main import fail
from codex_runner.http.wire_sessions import AttachOut


def printable(target: AttachOut) -> str:
    """The command as one shell line, its environment first."""
    env = [f"{key}={shlex.quote(value)}" for key, value in sorted(target.env.items())]
    return " ".join([*env, *(shlex.quote(part) for part in target.command)])


def attach(
    task_id: Annotated[
        str, typer.Argument(help="The task's id, or any unique prefix of it.", show_default=False)
    ],
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the command instead of running it.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Open the Codex TUI on the task's thread, sharing the runner's Codex."""
    with daemon_session(url) as client:
        task_id = resolve_task_id(client, task_id)
        if print_only:
            print(printable(client.attach_target(task_id)))
            return
        target = client.open_attachment(task_id, os.getpid())
        try:
            code = _run(target)
        finally:
            if target.attachment_id is not None:
                with contextlib.suppress(Exception):  # it also ends with this process
                    client.close_attachment(task_id, target.attachment_id)
    raise typer.Exit(code)


def _run(target: AttachOut) -> int:
    env = {**os.environ, **target.env}
    try:
        child = subprocess.Popen(target.command, env=env)
    except OSError as exc:
        raise fail(f"cannot start {target.command[0]}: {exc}") from None
    # The TUI owns the terminal: Ctrl-C is its to handle, not ours to die of.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if child.poll() is None:  # pragma: no cover - only if wait() was interrupted
            child.terminate()
            child.wait(10)
