"""A small synchronous client of the daemon's HTTP API, for the CLI.

Every call has a timeout and returns the API's own response models; every failure becomes
one :class:`~codex_runner.cli.daemon_errors.ClientError` whose message is a single line a
user can act on. Following a task's live events is :mod:`codex_runner.cli.event_stream`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from codex_runner.cli import event_stream
from codex_runner.cli.daemon_address import api_token, resolve_url
from codex_runner.cli.daemon_errors import ClientError, first_error, raise_for_status, unreachable
from codex_runner.config import default_home
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import (
    ApprovalList,
    ApprovalOut,
    DecisionBody,
    DiffOut,
    EventList,
    EventOut,
    GcBody,
    GcOut,
    GraphCreate,
    GraphOut,
    MessageBody,
    ProfileSwitchBody,
    ProfileSwitchOut,
    PromptBody,
    ResumeBody,
    StatusOut,
    TaskCreate,
)
from codex_runner.http.wire_disk import DiskCheckOut, DiskOut
from codex_runner.http.wire_hosts import HostList
from codex_runner.http.wire_link import LinkOut, LinkStart
from codex_runner.http.wire_notify import DeliveryList
from codex_runner.http.wire_sessions import AttachCreate, AttachOut, ThreadList
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.http.wire_turns import TurnList

CALL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
EVENT_PAGE = 500

M = TypeVar("M", bound=BaseModel)


class DaemonClient:
    """Typed calls to the daemon's ``/v1`` API. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_reconnects: int = event_stream.MAX_RECONNECTS,
        timeout: httpx.Timeout = CALL_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_reconnects = max_reconnects
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            trust_env=False,  # a proxy from the environment must not see the token
        )

    @classmethod
    def connect(cls, url: str | None = None, home: Path | None = None) -> DaemonClient:
        """A client for the daemon of runner home ``home`` (default ``$CODEX_RUNNER_HOME``)."""
        home = home or default_home()
        base_url = resolve_url(home, url)
        token = api_token(home)
        return cls(base_url, token)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- service ---------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        response = self._request("GET", "/healthz")
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"body": body}

    def status(self) -> StatusOut:
        return self._call(StatusOut, "GET", "/v1/status")

    def gc(self, body: GcBody) -> GcOut:
        return self._call(GcOut, "POST", "/v1/gc", body=body)

    def disk(self) -> DiskOut:
        return self._call(DiskOut, "GET", "/v1/disk")

    def disk_check(self) -> DiskCheckOut:
        return self._call(DiskCheckOut, "POST", "/v1/disk/check")

    def answer_status(self, path: str) -> int:
        """The HTTP status ``GET path`` answers with, error statuses included (a ClientError
        only when the daemon does not answer)."""
        return self._request("GET", path, check=False).status_code

    def switch_profile(self, body: ProfileSwitchBody) -> ProfileSwitchOut:
        """Switch the daemon's Codex runtime to another auth profile (it restarts Codex
        before it answers, so this waits up to the call timeout)."""
        return self._call(ProfileSwitchOut, "POST", "/v1/auth/profile", body=body)

    # --- tasks -----------------------------------------------------------------------------

    def submit_task(self, body: TaskCreate) -> tuple[TaskOut, bool]:
        """The task and whether this call created it (False: an idempotent re-submit)."""
        response = self._request("POST", "/v1/tasks", body=body)
        return self._parse(TaskOut, response), response.status_code == 201

    def list_tasks(
        self,
        states: Sequence[str] = (),
        *,
        limit: int | None = None,
        offset: int | None = None,
        purpose: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> TaskList:
        """Tasks newest first; ``metadata``: each key must hold its value."""
        params: list[tuple[str, str | int]] = [("state", s) for s in states]
        if limit is not None:
            params.append(("limit", limit))
        if offset is not None:
            params.append(("offset", offset))
        if purpose is not None:
            params.append(("purpose", purpose))
        params.extend((f"metadata.{key}", value) for key, value in (metadata or {}).items())
        return self._call(TaskList, "GET", "/v1/tasks", params=params)

    def get_task(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "GET", f"/v1/tasks/{_seg(task_id)}")

    def events(self, task_id: str, *, after: int = 0, limit: int | None = None) -> EventList:
        params: list[tuple[str, str | int]] = [("after", after)]
        if limit is not None:
            params.append(("limit", limit))
        return self._call(EventList, "GET", f"/v1/tasks/{_seg(task_id)}/events", params=params)

    def all_events(self, task_id: str, *, after: int = 0) -> Iterator[EventOut]:
        """Every stored event after ``after``, page by page."""
        while True:
            page = self.events(task_id, after=after, limit=EVENT_PAGE)
            fresh = [e for e in page.events if e.seq > after]
            yield from fresh
            if not fresh:
                return
            after = max(page.last_seq, fresh[-1].seq)

    def interrupt(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/interrupt")

    def cancel(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/cancel")

    def resume(self, task_id: str, body: ResumeBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/resume", body=body)

    def steer(self, task_id: str, body: PromptBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/steer", body=body)

    def message(self, task_id: str, body: MessageBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/message", body=body)

    def diff(self, task_id: str) -> DiffOut:
        return self._call(DiffOut, "GET", f"/v1/tasks/{_seg(task_id)}/diff")

    def turns(self, task_id: str) -> TurnList:
        return self._call(TurnList, "GET", f"/v1/tasks/{_seg(task_id)}/turns")

    # --- approvals and graphs --------------------------------------------------------------

    def approvals(
        self, state: str | None = "pending", *, task_id: str | None = None
    ) -> ApprovalList:
        params: list[tuple[str, str | int]] = [("state", state)] if state else []
        if task_id is not None:
            params.append(("task_id", task_id))
        return self._call(ApprovalList, "GET", "/v1/approvals", params=params)

    def decide(self, approval_id: str, body: DecisionBody) -> ApprovalOut:
        return self._call(ApprovalOut, "POST", f"/v1/approvals/{_seg(approval_id)}", body=body)

    def create_graph(self, body: GraphCreate) -> GraphOut:
        return self._call(GraphOut, "POST", "/v1/graphs", body=body)

    def get_graph(self, graph_id: str) -> GraphOut:
        return self._call(GraphOut, "GET", f"/v1/graphs/{_seg(graph_id)}")

    # --- the chat server link --------------------------------------------------------------

    def link(self) -> LinkOut:
        return self._call(LinkOut, "GET", "/v1/link")

    def start_link(self, body: LinkStart) -> LinkOut:
        return self._call(LinkOut, "PUT", "/v1/link", body=body)

    def stop_link(self) -> None:
        self._request("DELETE", "/v1/link")

    # --- live sessions ---------------------------------------------------------------------

    def attach_target(self, task_id: str) -> AttachOut:
        return self._call(AttachOut, "GET", f"/v1/tasks/{_seg(task_id)}/attach")

    def open_attachment(self, task_id: str, pid: int) -> AttachOut:
        path = f"/v1/tasks/{_seg(task_id)}/attach"
        return self._call(AttachOut, "POST", path, body=AttachCreate(pid=pid))

    def close_attachment(self, task_id: str, attachment_id: str) -> None:
        self._request("DELETE", f"/v1/tasks/{_seg(task_id)}/attach/{_seg(attachment_id)}")

    def threads(self, *, cwd: str | None = None, limit: int = 50) -> ThreadList:
        params: list[tuple[str, str | int]] = [("limit", limit)]
        if cwd is not None:
            params.append(("cwd", cwd))
        return self._call(ThreadList, "GET", "/v1/threads", params=params)

    def hosts(self) -> HostList:
        return self._call(HostList, "GET", "/v1/hosts")

    def deliveries(self, status: str | None = None, limit: int = 100) -> DeliveryList:
        params: list[tuple[str, str | int]] = [("limit", limit)]
        if status is not None:
            params.append(("status", status))
        return self._call(DeliveryList, "GET", "/v1/notify/deliveries", params=params)

    def drain_host(self, host_id: str, *, undo: bool = False) -> HostList:
        path = f"/v1/hosts/{quote(host_id, safe='')}/drain"
        return self._call(HostList, "POST", path, params=[("undo", str(undo).lower())])

    # --- the live event stream -------------------------------------------------------------

    def follow_events(
        self,
        task_id: str,
        *,
        after: int = 0,
        until_terminal: bool = True,
        until_states: Collection[TaskState] = (),
    ) -> Iterator[EventOut]:
        """The task's events after ``after``, live: see
        :func:`codex_runner.cli.event_stream.follow_events`."""
        return event_stream.follow_events(
            self,
            task_id,
            after=after,
            until_terminal=until_terminal,
            until_states=until_states,
            max_reconnects=self.max_reconnects,
        )

    def open_stream(
        self,
        path: str,
        *,
        params: Mapping[str, str | int],
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
    ) -> AbstractContextManager[httpx.Response]:
        """A streamed ``GET path`` with the client's token (the caller reads the response)."""
        return self._http.stream("GET", path, params=params, headers=headers, timeout=timeout)

    # --- plumbing --------------------------------------------------------------------------

    def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Sequence[tuple[str, str | int]] = (),
    ) -> M:
        return self._parse(model, self._request(method, path, body=body, params=params))

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Sequence[tuple[str, str | int]] = (),
        check: bool = True,
    ) -> httpx.Response:
        content = body.model_dump_json(exclude_unset=True) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(
                method, path, content=content, headers=headers, params=list(params)
            )
        except httpx.ConnectError as exc:
            raise ClientError(unreachable(self.base_url), unanswered=type(exc).__name__) from None
        except httpx.TimeoutException as exc:
            raise ClientError(
                f"the daemon at {self.base_url} did not answer {method} {path} in time",
                unanswered=type(exc).__name__,
            ) from None
        except httpx.TransportError as exc:
            raise ClientError(
                f"lost the connection to the daemon at {self.base_url}: {exc}",
                unanswered=type(exc).__name__,
            ) from None
        if check:
            raise_for_status(response)
        return response

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ClientError(
                f"the daemon at {self.base_url} answered with a {model.__name__} this client "
                f"cannot read ({first_error(exc)}); are the versions the same?"
            ) from None


def _seg(value: str) -> str:
    return quote(value, safe="")
