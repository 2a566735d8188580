"""Writing one Responses API answer as a stream of events, over SSE or a WebSocket.

Both transports carry the same JSON event objects (``response.created``, the output items,
``response.completed``); only the framing differs: an SSE ``event:``/``data:`` block in an
HTTP response body, or one text frame per event on a WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Protocol

import orjson
from aiohttp import web


def drop_connection(request: web.Request) -> None:
    """End the HTTP answer mid-body: a cut stream, as when a proxy dies."""
    # Abort (not close) so the client sees a truncated chunked body.
    if request.transport is not None:
        request.transport.abort()


def error_response(status: int, message: str, body: str | None = None) -> web.Response:
    """An HTTP error answer: ``body`` as given, else an OpenAI-style error object."""
    if body is not None:
        return web.Response(status=status, text=body, content_type="application/json")
    error = {"error": {"message": message, "type": "mock_model_error", "code": str(status)}}
    return web.json_response(error, status=status)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def estimate_tokens(size_in_bytes: int) -> int:
    # About four bytes per token, like English text through a BPE tokenizer.
    return max(1, size_in_bytes // 4)


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` in at most ``pieces`` non-empty consecutive parts (one part for empty text)."""
    if not text:
        return [text]
    size = -(-len(text) // min(pieces, len(text)))
    return [text[i : i + size] for i in range(0, len(text), size)]


class AnswerSink(Protocol):
    """Where the events of one answer go: the SSE body or the WebSocket."""

    async def send(self, event_type: str, data: bytes) -> None: ...


class SseSink:
    """Server-Sent Events in the body of the ``POST /v1/responses`` answer."""

    def __init__(self, response: web.StreamResponse) -> None:
        self._response = response

    async def send(self, event_type: str, data: bytes) -> None:
        await self._response.write(b"event: " + event_type.encode() + b"\ndata: " + data + b"\n\n")


class SocketSink:
    """One text frame per event on the ``/v1/responses`` WebSocket."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self._socket = socket

    async def send(self, event_type: str, data: bytes) -> None:
        await self._socket.send_str(data.decode())


class EventStream:
    """One streamed answer: created, items (added/delta/done), completed."""

    def __init__(self, sink: AnswerSink, model: str, input_bytes: int) -> None:
        self._sink = sink
        self.id = new_id("resp")
        self._model = model
        self._created_at = int(time.time())
        self._input_bytes = input_bytes
        self._sequence = 0
        self.output: list[dict[str, Any]] = []

    def _envelope(self, status: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "response",
            "created_at": self._created_at,
            "status": status,
            "model": self._model,
            "output": list(self.output),
        }

    async def _send(self, event_type: str, payload: dict[str, Any]) -> None:
        event = {"type": event_type, "sequence_number": self._sequence, **payload}
        self._sequence += 1
        await self._sink.send(event_type, orjson.dumps(event))

    async def open(self) -> None:
        await self._send("response.created", {"response": self._envelope("in_progress")})
        await self._send("response.in_progress", {"response": self._envelope("in_progress")})

    async def add_item(
        self, item: dict[str, Any], *, deltas: int = 1, delta_delay: float = 0.0
    ) -> None:
        """Stream ``item``: added, its text in ``deltas`` pieces (``delta_delay`` seconds
        apart; messages only), done."""
        index = len(self.output)
        started = {**item, "status": "in_progress"}
        if item["type"] == "message":
            started["content"] = []
        elif item["type"] == "reasoning":
            started["summary"] = []
        await self._send("response.output_item.added", {"output_index": index, "item": started})
        # Codex streams these deltas on to its clients (item/agentMessage/delta).
        if item["type"] == "message":
            for n, piece in enumerate(split_text(item["content"][0]["text"], deltas)):
                if n and delta_delay:
                    await asyncio.sleep(delta_delay)
                await self._send(
                    "response.output_text.delta",
                    {
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": piece,
                    },
                )
        elif item["type"] == "reasoning":
            text = item["summary"][0]["text"]
            await self._send(
                "response.reasoning_summary_text.delta",
                {"item_id": item["id"], "output_index": index, "summary_index": 0, "delta": text},
            )
        self.output.append(item)
        await self._send("response.output_item.done", {"output_index": index, "item": item})

    async def complete(self) -> None:
        output_tokens = estimate_tokens(len(json.dumps(self.output)))
        input_tokens = estimate_tokens(self._input_bytes)
        envelope = self._envelope("completed")
        envelope["usage"] = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }
        await self._send("response.completed", {"response": envelope})
