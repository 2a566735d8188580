"""Model calls over a WebSocket, as Codex makes them when its provider supports it.

With ``supports_websockets = true`` on the provider (Codex's built-in OpenAI provider has
it), Codex opens one WebSocket per thread at ``ws://HOST/v1/responses`` and sends each model
call as one text frame: the HTTP request body plus ``"type": "response.create"``. The answer
is the same event objects as over SSE, one per text frame, ending with
``response.completed``; the connection then carries the thread's next call. Two additions:

- ``generate: false``, sent once when a session starts, is a prewarm: it asks for nothing
  but a completed, empty response whose id the next call may continue from;
- ``previous_response_id`` with only the new input items, when a call continues this
  connection's previous response. Codex sends ``store: false``, so the server cannot look
  the response up anywhere else: each connection remembers its newest conversation
  (:class:`SocketConversation`) and rebuilds the full input from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

CREATE: Final = "response.create"
# Fields of a frame that are about the socket exchange, not part of the request body.
_FRAME_ONLY: Final = frozenset({"type", "previous_response_id", "generate"})


class SocketRequestError(ValueError):
    """A frame the server cannot answer; sent back to Codex as an ``error`` event."""


def error_event(status: int, message: str) -> bytes:
    """An error event as Codex reads it on the socket: like an HTTP error with its status."""
    error = {"message": message, "type": "mock_model_error", "code": str(status)}
    return orjson.dumps({"type": "error", "status": status, "error": error})


def read_frame(data: str | bytes) -> Mapping[str, Any]:
    """Decode one ``response.create`` frame, or raise SocketRequestError naming the fault."""
    try:
        frame = orjson.loads(data)
    except ValueError as error:
        raise SocketRequestError(f"mock model cannot read the frame: {error}") from None
    if not isinstance(frame, dict):
        raise SocketRequestError("mock model expects a JSON object per frame")
    if frame.get("type") != CREATE:
        raise SocketRequestError(
            f"mock model answers only {CREATE!r} frames, got type {frame.get('type')!r}"
        )
    if not isinstance(frame.get("input", []), list | str):
        raise SocketRequestError("mock model expects 'input' to be a list of items or a text")
    return frame


def _user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def is_prewarm(frame: Mapping[str, Any]) -> bool:
    return frame.get("generate") is False


class SocketConversation:
    """What one connection remembers: its newest response and the conversation up to it."""

    def __init__(self) -> None:
        self._response_id: str | None = None
        self._items: list[Any] = []

    def request_body(self, frame: Mapping[str, Any]) -> dict[str, Any]:
        """The full request body a frame stands for (input rebuilt when it continues)."""
        body = {key: value for key, value in frame.items() if key not in _FRAME_ONLY}
        given = body.get("input", [])
        # A text input is one user message, as in the Responses API.
        items = [_user_message(given)] if isinstance(given, str) else list(given)
        previous = frame.get("previous_response_id")
        if previous:
            if previous != self._response_id:
                raise SocketRequestError(
                    f"previous_response_id {previous!r} is not the last response on this "
                    "connection; send the full input instead"
                )
            items = [*self._items, *items]
        body["input"] = items
        return body

    def remember(self, response_id: str, body: Mapping[str, Any], output: list[Any]) -> None:
        """Keep the conversation through ``response_id`` for a call that continues it."""
        self._response_id = response_id
        self._items = [*body.get("input", []), *output]
