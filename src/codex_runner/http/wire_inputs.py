"""Request bodies shaped into the service's values: a turn's input, a task's options, one
turn's overrides (shared by the HTTP API and the MCP server, which take the same bodies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_runner.domain.task import RuntimeSettings
from codex_runner.domain.task_options import SessionOptions, TaskOptions, TurnOverrides
from codex_runner.http.wire import GraphCreate, TaskCreate
from codex_runner.http.wire_options import TurnFields
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.graphs import ChildRequest, GraphRequest
from codex_runner.service.turn_inputs import InputItem
from codex_runner.service.validation import workspace_request


def turn_input_of(prompt: str | None, items: Sequence[Any] | None) -> str | list[InputItem]:
    """A request's input: its prompt, or its items as the service's input items."""
    if prompt is not None and items is not None:
        raise InvalidRequest(
            "input", "give either prompt (text) or input (a list of items), not both"
        )
    if items is None:
        return prompt or ""  # no prompt either: the service refuses it, naming prompt
    return [InputItem(**item.model_dump()) for item in items]


def task_options_of(body: TaskCreate | GraphCreate) -> TaskOptions:
    turn_cwd = body.turn_cwd if isinstance(body, TaskCreate) else None
    return TaskOptions(
        session=SessionOptions(
            developer_instructions=body.developer_instructions,
            base_instructions=body.base_instructions,
            personality=body.personality,
            service_tier=body.service_tier,
            model_provider=body.model_provider,
            config=body.config or {},
            ephemeral=body.ephemeral,
            runtime=body.runtime,
            notify=tuple(body.notify or ()),
        ),
        purpose=body.purpose,
        metadata=body.metadata or {},
        turn=TurnOverrides(summary=body.summary, cwd=turn_cwd, output_schema=body.output_schema),
    )


def overrides_of(body: TurnFields) -> TurnOverrides:
    return TurnOverrides(
        model=body.model,
        effort=body.effort,
        summary=body.summary,
        sandbox=body.sandbox,
        approval_policy=body.approval_policy,
        cwd=body.cwd,
        output_schema=body.output_schema,
    )


def graph_request_of(body: GraphCreate) -> GraphRequest:
    """A graph's body as the service's request (the HTTP API's and MCP's alike)."""
    return GraphRequest(
        workspace=workspace_request(body.repo, body.base_ref, body.cwd),
        children=tuple(
            ChildRequest(
                key=c.key,
                prompt=c.prompt,
                depends_on=tuple(c.depends_on),
                priority=c.priority,
                output_schema=c.output_schema,
            )
            for c in body.children
        ),
        prompt=body.prompt,
        priority=body.priority,
        settings=settings_of(body),
        max_runtime_s=body.max_runtime_s,
        idempotency_key=body.idempotency_key,
        max_concurrent=body.max_concurrent,
        options=task_options_of(body),
    )


def settings_of(body: TaskCreate | GraphCreate) -> RuntimeSettings:
    """A task's or graph's Codex settings as the service takes them."""
    return RuntimeSettings(
        model=body.model,
        effort=body.effort,
        sandbox=body.sandbox,
        approval_policy=body.approval_policy,
    )
