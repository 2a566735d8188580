"""The Slack bridge: one Codex session per Slack thread, over Socket Mode.

The daemon constructs :class:`SlackBridge`, mounts :func:`slack_router` (the agent's helper
endpoints) and calls ``start()`` / ``stop()``. See docs/slack.md. Both are imported on first
use: the Slack client libraries are slow to import, and most daemons run without Slack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_runner.bridges.slack.bridge import SlackBridge
    from codex_runner.bridges.slack.routes import slack_router

__all__ = ["SlackBridge", "slack_router"]


def __getattr__(name: str) -> Any:
    if name == "SlackBridge":
        from codex_runner.bridges.slack.bridge import SlackBridge

        return SlackBridge
    if name == "slack_router":
        from codex_runner.bridges.slack.routes import slack_router

        return slack_router
    raise AttributeError(name)
