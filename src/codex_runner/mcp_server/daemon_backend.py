"""The MCP tools over a running daemon's HTTP API (``codex-runner mcp``): it starts
nothing of its own, so every call finds the daemon (and its token) afresh, and a daemon
that is not running is a clear error of that call, not of the MCP session."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from codex_runner.http.wire import (
    ApprovalList,
    ApprovalOut,
    DecisionBody,
    DiffOut,
    EventList,
    EventOut,
    GraphCreate,
    GraphOut,
    MessageBody,
    PromptBody,
    TaskCreate,
)
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.mcp_server.backend import DAEMON_UNREACHABLE, RunnerError, TaskQuery

M = TypeVar("M", bound=BaseModel)

CALL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The event stream sends a keepalive comment every few seconds; silence this long means
# the connection is gone. The caller bounds the whole wait.
STREAM_TIMEOUT = httpx.Timeout(None, connect=5.0, read=120.0)
MAX_STREAM_LINE = 16 * 1024 * 1024

# Where the daemon is and the token it wants: (url, token), or a RunnerError saying why not.
Locate = Callable[[], tuple[str, str]]


class DaemonBackend:
    """:class:`~codex_runner.mcp_server.backend.RunnerBackend` over the daemon's API."""

    def __init__(self, locate: Locate, *, transport: httpx.AsyncBaseTransport | None = None):
        self._locate = locate
        # No proxy from the environment: it would see the token.
        self._http = httpx.AsyncClient(timeout=CALL_TIMEOUT, transport=transport, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit_task(self, body: TaskCreate) -> TaskOut:
        return await self._call(TaskOut, "POST", "/v1/tasks", body=body)

    async def get_task(self, task_id: str) -> TaskOut:
        return await self._call(TaskOut, "GET", f"/v1/tasks/{_seg(task_id)}")

    async def list_tasks(self, query: TaskQuery) -> TaskList:
        params: list[tuple[str, str | int]] = [("state", str(s)) for s in query.states]
        params += [("limit", query.limit), ("offset", query.offset)]
        if query.graph_id is not None:
            params.append(("graph_id", query.graph_id))
        if query.purpose is not None:
            params.append(("purpose", query.purpose))
        params += [(f"metadata.{key}", value) for key, value in query.metadata.items()]
        return await self._call(TaskList, "GET", "/v1/tasks", params=params)

    async def send_message(self, task_id: str, body: MessageBody) -> TaskOut:
        path = f"/v1/tasks/{_seg(task_id)}/message"
        return await self._call(TaskOut, "POST", path, body=body)

    async def steer_task(self, task_id: str, prompt: str) -> TaskOut:
        path = f"/v1/tasks/{_seg(task_id)}/steer"
        return await self._call(TaskOut, "POST", path, body=PromptBody(prompt=prompt))

    async def interrupt_task(self, task_id: str) -> TaskOut:
        return await self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/interrupt")

    async def cancel_task(self, task_id: str) -> TaskOut:
        return await self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/cancel")

    async def get_task_events(self, task_id: str, after: int, limit: int) -> EventList:
        path = f"/v1/tasks/{_seg(task_id)}/events"
        params: list[tuple[str, str | int]] = [("after", after), ("limit", limit)]
        return await self._call(EventList, "GET", path, params=params)

    async def follow_events(self, task_id: str, after: int) -> AsyncGenerator[EventOut, None]:
        url, token = self._locate()
        path = f"{url}/v1/tasks/{_seg(task_id)}/events/stream"
        try:
            async with self._http.stream(
                "GET",
                path,
                params={"after": after},
                headers=_headers(token),
                timeout=STREAM_TIMEOUT,
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _refusal(response)
                async for line in response.aiter_lines():
                    if len(line) > MAX_STREAM_LINE:
                        raise RunnerError("bad_answer", "the daemon sent an oversized event")
                    if line.startswith("data:"):
                        event = _event(line[5:].strip())
                        if event is not None:
                            yield event
        except httpx.TransportError as exc:
            raise _transport_failure(exc, url) from None

    async def get_task_diff(self, task_id: str) -> DiffOut:
        return await self._call(DiffOut, "GET", f"/v1/tasks/{_seg(task_id)}/diff")

    async def list_approvals(self, task_id: str | None) -> ApprovalList:
        params: list[tuple[str, str | int]] = [("state", "pending")]
        if task_id is not None:
            params.append(("task_id", task_id))
        return await self._call(ApprovalList, "GET", "/v1/approvals", params=params)

    async def decide_approval(self, approval_id: str, body: DecisionBody) -> ApprovalOut:
        path = f"/v1/approvals/{_seg(approval_id)}"
        return await self._call(ApprovalOut, "POST", path, body=body)

    async def start_graph(self, body: GraphCreate) -> GraphOut:
        return await self._call(GraphOut, "POST", "/v1/graphs", body=body)

    async def get_graph(self, graph_id: str) -> GraphOut:
        return await self._call(GraphOut, "GET", f"/v1/graphs/{_seg(graph_id)}")

    async def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Sequence[tuple[str, str | int]] = (),
    ) -> M:
        url, token = self._locate()
        content = body.model_dump_json(exclude_unset=True) if body is not None else None
        headers = _headers(token)
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, url + path, content=content, headers=headers, params=list(params)
            )
        except httpx.TransportError as exc:
            raise _transport_failure(exc, url) from None
        if response.status_code >= 400:
            raise _refusal(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise RunnerError(
                "bad_answer",
                f"the daemon at {url} answered with a {model.__name__} this server cannot read; "
                "are codex-runner mcp and the daemon the same version?",
            ) from None


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _seg(value: str) -> str:
    return quote(value, safe="")


def _event(data: str) -> EventOut | None:
    try:
        raw: Any = json.loads(data)
        if not isinstance(raw, dict) or "seq" not in raw:
            return None  # a live delta or a notice: not a durable event
        return EventOut.model_validate(raw)
    except (ValueError, ValidationError):
        return None


def _refusal(response: httpx.Response) -> RunnerError:
    """The API's own error (code, message, field), or a plain one for a non-API answer."""
    try:
        error = response.json()["error"]
        return RunnerError(str(error["code"]), str(error["message"]), error.get("field"))
    except (ValueError, KeyError, TypeError):
        return RunnerError("http_error", f"the daemon answered HTTP {response.status_code}")


def _transport_failure(exc: httpx.TransportError, url: str) -> RunnerError:
    if isinstance(exc, httpx.ConnectError):
        return RunnerError(
            DAEMON_UNREACHABLE,
            f"no codex-runner daemon answers at {url}: start it with `codex-runner serve` "
            "(with the same CODEX_RUNNER_HOME as this MCP server)",
        )
    if isinstance(exc, httpx.TimeoutException):
        return RunnerError(DAEMON_UNREACHABLE, f"the daemon at {url} did not answer in time")
    return RunnerError(DAEMON_UNREACHABLE, f"lost the connection to the daemon at {url}")
