"""The Slack bridge: one Codex session per Slack thread, over Socket Mode.

The daemon constructs :class:`SlackBridge`, mounts :func:`slack_router` (the agent's helper
endpoints) and calls ``start()`` / ``stop()``. See docs/slack.md.
"""

from codex_runner.bridges.slack.bridge import SlackBridge
from codex_runner.bridges.slack.routes import slack_router

__all__ = ["SlackBridge", "slack_router"]
