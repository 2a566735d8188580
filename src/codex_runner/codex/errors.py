"""Typed errors of the Codex engine. Each message says what went wrong and how to fix it."""

from __future__ import annotations

import re
from typing import Any

from codex_runner.domain.events import FailureClass


class CodexError(Exception):
    """Base of every engine error."""

    failure_class: FailureClass = FailureClass.INTERNAL


class CodexBinaryNotFound(CodexError):
    failure_class = FailureClass.RUNTIME_UNAVAILABLE


class RuntimeUnavailable(CodexError):
    """The runtime is not running (never started, closed, or stopped after a crash loop)."""

    failure_class = FailureClass.RUNTIME_UNAVAILABLE


class TransportClosed(CodexError):
    """The connection to Codex ended while something was waiting on it."""

    failure_class = FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED


class RpcTimeout(CodexError):
    failure_class = FailureClass.PROTOCOL_ERROR


class RpcError(CodexError):
    """Codex answered a request with a JSON-RPC error."""

    failure_class = FailureClass.PROTOCOL_ERROR

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method} failed ({code}): {message}")
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


# What Codex says when a thread's rollout cannot be loaded (missing, under another home, or
# empty because the thread never ran a turn), e.g. "no rollout found for thread id X".
LOST_THREAD_MESSAGE = re.compile(
    r"no rollout found|rollout .* is empty|is empty|rollout .* not found|thread not found", re.I
)


# What Codex says when asked to resume a thread it is still unloading (after the last
# subscriber left): "thread X is closing; retry thread/resume after the thread is closed".
THREAD_CLOSING_MESSAGE = re.compile(r"is closing", re.I)


class ThreadLost(CodexError):
    """Codex cannot resume the thread: its rollout is missing or empty."""


class TurnBusy(CodexError):
    """A turn is already running on this thread; steer it or wait for it to end."""


class NoActiveTurn(CodexError):
    """Steer or interrupt of a turn that has already ended."""


class UnsupportedOperation(CodexError):
    """The chosen runtime cannot do this (e.g. steer with the exec runtime)."""
