"""The MCP server's tools and resources, defined once over a
:class:`~codex_runner.mcp_server.backend.RunnerBackend`: the daemon serves them at ``/mcp``
over its TaskService, ``codex-runner mcp`` over stdio through the daemon's API.

Each tool is thin: typed arguments, one backend call, the API's own wire model as its
structured output. A refused call is a tool error whose text names the problem and the fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import BaseModel, Field, ValidationError

from codex_runner import __version__
from codex_runner.config import ApprovalPolicy, McpSettings, SandboxMode
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import (
    INT64_MAX,
    ApprovalList,
    ApprovalOut,
    ChildCreate,
    DecisionBody,
    DiffOut,
    EventList,
    GraphCreate,
    GraphOut,
    MessageBody,
    TaskCreate,
)
from codex_runner.http.wire_options import Personality, RuntimeName, Summary
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.mcp_server.backend import RunnerBackend, RunnerError, TaskQuery
from codex_runner.mcp_server.errors import explain, invalid_arguments
from codex_runner.mcp_server.waiting import MAX_WAIT_S, WaitOut, wait_for_task

SERVER_NAME = "codex-runner"
INSTRUCTIONS = (
    "codex-runner runs Codex tasks for you. submit_task(prompt=...) queues one (the server "
    "has defaults for where it runs); wait_task blocks up to 60 s per call until it settles "
    "or needs a decision; get_task_diff shows what it changed; send_message continues it."
)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Metadata = Annotated[
    dict[str, str] | None,
    Field(description="Your own string keys and values: list_tasks(metadata=...) finds them."),
]
OutputSchema = Annotated[
    dict[str, Any] | None,
    Field(
        description="A JSON Schema the turn's final message must match; the task's result "
        "(get_task, wait_task: result, has_result) is then that JSON."
    ),
]
TaskId = Annotated[str, Field(min_length=1, max_length=100, description="The task's id.")]
Prompt = Annotated[str, Field(min_length=1, max_length=200_000)]
Images = Annotated[
    list[str] | None,
    Field(
        default=None,
        max_length=31,
        description="Image files in the task's workspace (relative to it) sent with the prompt.",
    ),
]


def with_images(fields: dict[str, Any], images: list[str] | None) -> dict[str, Any]:
    """The prompt as input items followed by the images, when there are images."""
    if not images:
        return fields
    items = [{"type": "text", "text": fields.pop("prompt")}]
    items += [{"type": "local_image", "path": path} for path in images]
    return {**fields, "input": items}


async def _call(result: Awaitable[T]) -> T:
    try:
        return await result
    except RunnerError as exc:
        raise ToolError(explain(exc)) from None


def _build(model: type[M], fields: dict[str, Any]) -> M:
    """The API's request model from tool arguments, judged by the API's own rules."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise ToolError(explain(invalid_arguments(exc))) from None


def with_defaults(defaults: McpSettings, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the server's ``[mcp]`` repo or cwd and model where the caller gave
    none; a ToolError when no workspace is known at all."""
    fields = dict(fields)
    if fields.get("repo") is None and fields.get("cwd") is None:
        fields["repo"], fields["cwd"] = defaults.repo, defaults.cwd
        if defaults.repo is None and defaults.cwd is None:
            raise ToolError(
                "no workspace: pass repo (a git repository) or cwd (a directory), or set "
                "repo or cwd under [mcp] in the MCP server's config.toml"
            )
    if fields.get("model") is None:
        fields["model"] = defaults.model
    return fields


class ChildIn(BaseModel):
    key: str = Field(min_length=1, max_length=64, description="Unique within the graph.")
    prompt: Prompt
    depends_on: list[str] = Field(default_factory=list, description="Keys of prerequisites.")
    output_schema: dict[str, Any] | None = Field(
        default=None, description="A JSON Schema this child's final reply must match."
    )


class _Server(MCPServer):
    """MCPServer whose refusal of bad arguments names the argument in one line (the SDK
    answers with pydantic's whole report, links included)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                problem = explain(invalid_arguments(exc.__cause__))
                raise ToolError(f"{name}: {problem}") from None
            raise


def build_server(
    backend: RunnerBackend, defaults: McpSettings, *, name: str = SERVER_NAME
) -> MCPServer:
    """An MCP server whose tools call ``backend``; ``defaults`` fill in submit_task and
    start_graph."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = _Server(name, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    # MCPServer configures the root logger (a handler on stderr); the runner's logging, set
    # up by the daemon or the CLI, stays as it was.
    root.handlers[:] = handlers
    root.setLevel(level)

    @server.tool()
    async def submit_task(
        prompt: Prompt,
        repo: Annotated[str | None, Field(description="Absolute path of a git repository.")] = None,
        cwd: Annotated[str | None, Field(description="Absolute path: run in place.")] = None,
        base_ref: Annotated[str | None, Field(description="Commit-ish in repo.")] = None,
        model: str | None = None,
        effort: str | None = None,
        sandbox: SandboxMode | None = None,
        approval_policy: ApprovalPolicy | None = None,
        priority: Annotated[int, Field(description="Higher runs first.")] = 0,
        max_runtime_s: float | None = None,
        idempotency_key: Annotated[
            str | None, Field(description="Re-sending it returns the same task.")
        ] = None,
        developer_instructions: Annotated[
            str | None, Field(description="Instructions Codex gets as the developer's.")
        ] = None,
        base_instructions: Annotated[
            str | None, Field(description="Replace Codex's own base instructions.")
        ] = None,
        personality: Personality | None = None,
        service_tier: Annotated[
            Literal["fast"] | None, Field(description="Default: the provider's own.")
        ] = None,
        model_provider: Annotated[
            str | None, Field(description="One of Codex's model_providers, such as openai.")
        ] = None,
        config: Annotated[
            dict[str, Any] | None,
            Field(
                description='Codex config overrides by dotted key ({"model_verbosity": "low"}); '
                "only the keys a task may set (docs/programs.md)."
            ),
        ] = None,
        runtime: Annotated[
            RuntimeName | None, Field(description="Default: the daemon's [codex] runtime.")
        ] = None,
        ephemeral: Annotated[bool, Field(description="Codex keeps no rollout.")] = False,
        purpose: Annotated[
            str | None,
            Field(description="A short label, such as review or ci/lint: list_tasks finds it."),
        ] = None,
        metadata: Metadata = None,
        output_schema: OutputSchema = None,
        summary: Annotated[Summary | None, Field(description="Reasoning summary.")] = None,
        turn_cwd: Annotated[
            str | None, Field(description="The first turn's directory inside the workspace.")
        ] = None,
        images: Images = None,
    ) -> TaskOut:
        """Queue a Codex task. Without repo or cwd it runs where the server's config says;
        wait_task waits for it. With output_schema the task's result is the reply's JSON."""
        fields = with_defaults(
            defaults,
            {
                "prompt": prompt,
                "repo": repo,
                "cwd": cwd,
                "base_ref": base_ref,
                "model": model,
                "effort": effort,
                "sandbox": sandbox,
                "approval_policy": approval_policy,
                "priority": priority,
                "max_runtime_s": max_runtime_s,
                "idempotency_key": idempotency_key,
                "developer_instructions": developer_instructions,
                "base_instructions": base_instructions,
                "personality": personality,
                "service_tier": service_tier,
                "model_provider": model_provider,
                "config": config,
                "runtime": runtime,
                "ephemeral": ephemeral,
                "purpose": purpose,
                "metadata": metadata,
                "output_schema": output_schema,
                "summary": summary,
                "turn_cwd": turn_cwd,
            },
        )
        return await _call(backend.submit_task(_build(TaskCreate, with_images(fields, images))))

    @server.tool()
    async def get_task(task_id: TaskId) -> TaskOut:
        """The task: its state, final message, result, branch and diff summary."""
        return await _call(backend.get_task(task_id))

    @server.tool()
    async def list_tasks(
        states: Annotated[list[TaskState] | None, Field(description="Only these states.")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
        offset: Annotated[int, Field(ge=0, le=INT64_MAX, description="Skip this many.")] = 0,
        graph_id: Annotated[str | None, Field(description="Only this graph's tasks.")] = None,
        purpose: Annotated[
            str | None, Field(max_length=64, description="Only tasks with this purpose.")
        ] = None,
        metadata: Annotated[
            dict[str, str] | None,
            Field(description="Only tasks whose metadata holds each of these keys and values."),
        ] = None,
    ) -> TaskList:
        """The newest tasks first, filtered by state, graph, purpose and metadata."""
        query = TaskQuery(
            states=states or (),
            graph_id=graph_id,
            purpose=purpose,
            metadata=metadata or {},
            limit=limit,
            offset=offset,
        )
        return await _call(backend.list_tasks(query))

    @server.tool()
    async def wait_task(
        task_id: TaskId,
        ctx: Context,
        timeout_s: Annotated[
            float, Field(ge=0, le=MAX_WAIT_S, description="At most 60; call again to go on.")
        ] = MAX_WAIT_S,
    ) -> WaitOut:
        """Block until the task settles (completed, failed, cancelled), waits for an
        approval or is interrupted, or timeout_s passes; outcome says which. Sends progress
        notifications meanwhile."""
        return await _call(wait_for_task(backend, task_id, timeout_s, ctx.report_progress))

    @server.tool()
    async def send_message(
        task_id: TaskId,
        prompt: Prompt,
        model: Annotated[str | None, Field(description="This turn only.")] = None,
        effort: Annotated[str | None, Field(description="This turn only.")] = None,
        summary: Annotated[Summary | None, Field(description="This turn only.")] = None,
        sandbox: SandboxMode | None = None,
        approval_policy: ApprovalPolicy | None = None,
        cwd: Annotated[
            str | None, Field(description="The turn's directory inside the workspace.")
        ] = None,
        output_schema: OutputSchema = None,
        images: Images = None,
    ) -> TaskOut:
        """A follow-up for a completed or interrupted task, queued as its next turn; the
        other arguments hold for that turn only."""
        fields = with_images(
            {
                "prompt": prompt,
                "model": model,
                "effort": effort,
                "summary": summary,
                "sandbox": sandbox,
                "approval_policy": approval_policy,
                "cwd": cwd,
                "output_schema": output_schema,
            },
            images,
        )
        return await _call(backend.send_message(task_id, _build(MessageBody, fields)))

    @server.tool()
    async def steer_task(task_id: TaskId, prompt: Prompt) -> TaskOut:
        """Add input to the task's running turn."""
        return await _call(backend.steer_task(task_id, prompt))

    @server.tool()
    async def interrupt_task(task_id: TaskId) -> TaskOut:
        """Stop the running turn; the thread is kept (send_message continues it)."""
        return await _call(backend.interrupt_task(task_id))

    @server.tool()
    async def cancel_task(task_id: TaskId) -> TaskOut:
        """End the task for good."""
        return await _call(backend.cancel_task(task_id))

    @server.tool()
    async def get_task_events(
        task_id: TaskId,
        after: Annotated[int, Field(ge=0, description="Events with a larger seq.")] = 0,
        limit: Annotated[int, Field(ge=1, le=1000)] = 200,
    ) -> EventList:
        """The task's durable events after seq ``after``; pass last_seq to read on."""
        return await _call(backend.get_task_events(task_id, after, limit))

    @server.tool()
    async def get_task_diff(task_id: TaskId) -> DiffOut:
        """What the task changed: its branch's unified diff against its base."""
        return await _call(backend.get_task_diff(task_id))

    @server.tool()
    async def list_approvals(task_id: str | None = None) -> ApprovalList:
        """Pending approvals (commands and patches Codex asks to run), of one task or all."""
        return await _call(backend.list_approvals(task_id))

    @server.tool()
    async def decide_approval(
        approval_id: Annotated[str, Field(min_length=1, max_length=100)],
        decision: Annotated[str, Field(description="One of its available_decisions.")],
    ) -> ApprovalOut:
        """Decide a pending approval once."""
        body = _build(DecisionBody, {"decision": decision, "by": "mcp"})
        return await _call(backend.decide_approval(approval_id, body))

    @server.tool()
    async def start_graph(
        children: Annotated[list[ChildIn], Field(min_length=1, max_length=1000)],
        prompt: Annotated[str | None, Field(description="The parent's prompt; runs last.")] = None,
        repo: str | None = None,
        cwd: str | None = None,
        base_ref: str | None = None,
        model: str | None = None,
        effort: str | None = None,
        sandbox: SandboxMode | None = None,
        approval_policy: ApprovalPolicy | None = None,
        priority: int = 0,
        max_runtime_s: float | None = None,
        max_concurrent: Annotated[
            int | None, Field(ge=1, description="At most this many children run at once.")
        ] = None,
        idempotency_key: str | None = None,
        developer_instructions: Annotated[
            str | None, Field(description="For the parent and every child.")
        ] = None,
        runtime: Annotated[
            RuntimeName | None, Field(description="Default: the daemon's [codex] runtime.")
        ] = None,
        purpose: Annotated[
            str | None, Field(description="A short label for the parent and every child.")
        ] = None,
        metadata: Metadata = None,
    ) -> GraphOut:
        """A parent task with children; each child starts once the children it depends_on
        completed, and the parent runs last with their results. The session options,
        purpose and metadata hold for all of them; a child may have its own output_schema."""
        fields = with_defaults(
            defaults,
            {
                "prompt": prompt,
                "repo": repo,
                "cwd": cwd,
                "base_ref": base_ref,
                "model": model,
                "effort": effort,
                "sandbox": sandbox,
                "approval_policy": approval_policy,
                "priority": priority,
                "max_runtime_s": max_runtime_s,
                "max_concurrent": max_concurrent,
                "idempotency_key": idempotency_key,
                "developer_instructions": developer_instructions,
                "runtime": runtime,
                "purpose": purpose,
                "metadata": metadata,
                "children": [_build(ChildCreate, c.model_dump()).model_dump() for c in children],
            },
        )
        return await _call(backend.start_graph(_build(GraphCreate, fields)))

    @server.tool()
    async def get_graph(
        graph_id: Annotated[str, Field(description="The graph's id, or any of its tasks'.")],
    ) -> GraphOut:
        """The graph: its parent and children, their states, and children that cannot run."""
        return await _call(backend.get_graph(graph_id))

    _task_resource(server, backend)
    return server


def _task_resource(server: MCPServer, backend: RunnerBackend) -> None:
    @server.resource(
        "task://{task_id}",
        name="task",
        description="A task with its final message, result and diff.",
        mime_type="application/json",
    )
    async def read(task_id: str) -> str:
        try:
            task = await backend.get_task(task_id)
            diff = await backend.get_task_diff(task_id)
        except RunnerError as exc:
            if exc.code == "not_found":
                raise ResourceNotFoundError(explain(exc)) from None
            raise ResourceError(explain(exc)) from None
        return json.dumps(
            {
                "id": task.id,
                "state": task.state,
                "prompt": task.prompt,
                "final_message": task.final_message,
                "result": task.result,
                "has_result": task.has_result,
                "branch": task.branch,
                "diff_summary": task.diff_summary,
                "diff": diff.diff,
            }
        )
