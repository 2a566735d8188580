"""doctor's check of the chat server link: its token, and the running daemon's link state."""

from __future__ import annotations

from typing import Any

from codex_runner.config import RunnerConfig
from codex_runner.runner_home.link_token import LinkTokenError, link_token
from codex_runner.service.doctor_checks import Check, error, ok, warn


def check_link(config: RunnerConfig, state: dict[str, Any] | None) -> Check:
    """``state`` is the daemon's ``/v1/status`` link (None: no daemon, or no link in it)."""
    settings = config.link
    where = f"{settings.url} as {settings.runner_id}"
    if settings.runner_id is None:
        return error("link", f"[link] url is {settings.url} but runner_id is not set")
    try:
        link_token(settings)
    except LinkTokenError as exc:
        return error("link", str(exc))
    if state is None:
        return ok("link", f"{where}: configured; it runs with `codex-runner serve`")
    if state["state"] == "connected":
        return ok(
            "link",
            f"{where}: connected since {state['connected_since']}, last heartbeat "
            f"{state['last_heartbeat_at']}, last acknowledged seq {state['last_acked_seq']}",
        )
    if state["state"] == "rejected":
        return error(
            "link",
            f"{where}: the chat server refused the token",
            "set the right token in CODEX_RUNNER_LINK_TOKEN or the token_file, then restart",
        )
    return warn(
        "link",
        f"{where}: {state['state']} ({state.get('last_error') or 'no error yet'}), "
        f"attempt {state.get('attempts', 0)}",
        "check that the chat server is reachable; the link retries on its own",
    )
