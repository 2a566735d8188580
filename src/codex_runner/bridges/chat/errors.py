"""What can go wrong talking to a chat, as the chat core tells it apart.

A bridge's own errors subclass these (Slack's ``SlackUnavailable``, ``SlackRejected``), so
the outbox and the sessions decide retry or drop without knowing which chat it is.
"""

from __future__ import annotations


class ChatUnavailable(Exception):
    """The chat could not take the call now (down, slow, rate limiting): try again later."""


class ChatRejected(Exception):
    """The chat refused the call for a reason retrying will not fix (a deleted channel, a
    missing permission)."""
