"""New work: a task or a graph checked, created once per idempotency key, and announced.

Every value is checked before anything is written (each error names its field); a request
with an ``idempotency_key`` already used finds what that key made, if it is the same request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.graph import GraphSpecError, InvalidMaxConcurrent, check_max_concurrent
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import DEFAULT_MAX_RUNTIME_S, RuntimeSettings, Task, WorkspaceRequest
from codex_runner.domain.task_options import TaskOptions, TurnOverrides
from codex_runner.service.errors import IdempotencyKeyReused, InvalidRequest
from codex_runner.service.graphs import (
    MAX_GRAPH_SIZE,
    GraphRequest,
    GraphView,
    load_graph,
    plan_graph,
)
from codex_runner.service.idempotency import check_same_request, graph_fingerprint, task_fingerprint
from codex_runner.service.option_checks import OptionRules
from codex_runner.service.turn_inputs import InputItem, turn_input
from codex_runner.service.validation import (
    check_images,
    check_max_runtime,
    check_priority,
    check_settings,
    check_workspace,
    resolved_workspace,
)
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import DuplicateIdempotencyKey
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import Workspaces


class Submissions:
    def __init__(
        self,
        store: Store,
        workspaces: Workspaces,
        writer: TaskWriter,
        *,
        ids: IdGenerator,
        clock: Callable[[], datetime],
        rules: OptionRules | None = None,
        uploads: Path | None = None,
    ) -> None:
        self._rules = rules or OptionRules()
        self._aliases = self._rules.aliases
        self._uploads = uploads
        self._store = store
        self._workspaces = workspaces
        self._writer = writer
        self._ids = ids
        self._clock = clock

    async def task(
        self,
        prompt: str | Sequence[InputItem],
        workspace: WorkspaceRequest,
        priority: int,
        settings: RuntimeSettings | None,
        max_runtime_s: float | None,
        idempotency_key: str | None,
        images: Sequence[str],
        thread_id: str | None = None,
        options: TaskOptions | None = None,
    ) -> tuple[Task, bool]:
        """The queued task, or the one ``idempotency_key`` already made; with whether it was
        created. Raises InvalidRequest (naming the field); nothing is written then.

        ``prompt`` is text or a list of input items (text and images; see turn_inputs).
        With ``thread_id`` the task adopts that Codex thread: its first turn resumes it with
        the prompt (a thread Codex cannot load is replaced, saying so in the task's events).
        """
        if isinstance(prompt, str) and not prompt.strip():
            raise InvalidRequest("prompt", "the prompt is empty: say what the task should do")
        if thread_id is not None:
            thread_id = await self._adoptable_thread(thread_id)
        check_priority(priority)
        settings = check_settings(settings or RuntimeSettings(), self._aliases)
        options = self._rules.task_options(options or TaskOptions(), settings)
        max_runtime_s = check_max_runtime(max_runtime_s)
        workspace = resolved_workspace(workspace)
        if not isinstance(prompt, str):
            given = turn_input(prompt, Path(workspace.repo or workspace.cwd or "/"), self._uploads)
            prompt, images = given.text, [*images, *given.images]
        fingerprint: str | None = None
        if idempotency_key is not None:
            fingerprint = task_fingerprint(
                prompt,
                workspace,
                priority=priority,
                settings=settings,
                max_runtime_s=max_runtime_s,
                images=images,
                options=options.to_json(),
            )
            existing = await self._store.find_by_idempotency_key(idempotency_key)
            if existing is not None:
                check_same_request(idempotency_key, existing, fingerprint)
                return existing, False
        workspace = await check_workspace(self._workspaces, workspace)
        now = self._clock()
        task = Task(
            id=self._ids.task_id(),
            prompt=prompt,
            workspace=workspace,
            created_at=now,
            updated_at=now,
            priority=priority,
            settings=settings,
            max_runtime_s=max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            idempotency_key=idempotency_key,
            idempotency_fingerprint=fingerprint,
            pending_images=check_images(images),
            thread_id=thread_id,
            pending_message=prompt if thread_id is not None else None,
            session=options.session,
            purpose=options.purpose,
            metadata=options.metadata,
            next_turn=options.turn,
        )
        try:
            await self._store.create_task(task)
        except DuplicateIdempotencyKey as exc:  # a racing submit with the key won
            existing = await self._writer.get(exc.existing_task_id)
            if fingerprint is not None:
                check_same_request(exc.key, existing, fingerprint)
            return existing, False
        if thread_id is not None:
            await self._store.record_thread(ThreadRecord(thread_id, task.id, now))
        await self._writer.publish(task.id, [1])
        return task, True

    async def _adoptable_thread(self, thread_id: str) -> str:
        """A Codex thread id no task owns yet."""
        try:
            thread_id = str(uuid.UUID(thread_id.strip()))
        except ValueError:
            raise InvalidRequest(
                "thread_id",
                f"{thread_id!r} is not a Codex thread id (a UUID); "
                "`codex-runner threads list` shows them",
            ) from None
        owner = await self._store.find_task_by_thread(thread_id)
        if owner is not None:
            raise InvalidRequest(
                "thread_id",
                f"thread {thread_id} already belongs to task {owner.id}; "
                "send that task a follow-up message instead",
            )
        return thread_id

    async def graph(self, request: GraphRequest) -> tuple[GraphView, bool]:
        """The graph, its parent and children created in one transaction, or the one its
        ``idempotency_key`` already made; with whether it was created."""
        request = _checked_graph_request(request, self._rules)
        fingerprint: str | None = None
        if request.idempotency_key is not None:
            fingerprint = graph_fingerprint(request)
            existing = await self._store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None:
                graph = await self._graph_of(request.idempotency_key, existing, fingerprint)
                return graph, False
        request = replace(
            request, workspace=await check_workspace(self._workspaces, request.workspace)
        )
        try:
            plan = plan_graph(
                request,
                graph_id=self._ids.graph_id(),
                new_task_id=self._ids.task_id,
                now=self._clock(),
            )
        except GraphSpecError as exc:
            raise InvalidRequest("children", str(exc)) from exc
        plan = replace(plan, parent=replace(plan.parent, idempotency_fingerprint=fingerprint))
        try:
            await self._store.create_graph(plan)
        except DuplicateIdempotencyKey as exc:  # a racing submit with the key won
            existing = await self._writer.get(exc.existing_task_id)
            assert fingerprint is not None  # only a request with a key meets its duplicate
            return await self._graph_of(exc.key, existing, fingerprint), False
        await self._writer.publish(plan.parent.id, [1, 2])
        for child in plan.children:
            await self._writer.publish(child.id, [1])
        return await load_graph(self._store, plan.graph.id), True

    async def _graph_of(self, key: str, existing: Task, fingerprint: str) -> GraphView:
        """The graph an idempotency key made, if this same request made it."""
        if existing.graph_id is None or not existing.is_graph_parent:
            raise IdempotencyKeyReused(key, existing.id)
        check_same_request(key, existing, fingerprint)
        return await load_graph(self._store, existing.graph_id)


def _checked_graph_request(request: GraphRequest, rules: OptionRules) -> GraphRequest:
    """The request with its values checked (each error names its field), its model aliases
    resolved and its workspace resolved; the workspace is not yet known to exist."""
    if len(request.children) > MAX_GRAPH_SIZE:
        raise InvalidRequest("children", f"a graph has at most {MAX_GRAPH_SIZE} children")
    check_priority(request.priority)
    try:
        check_max_concurrent(request.max_concurrent)
    except InvalidMaxConcurrent as exc:
        raise InvalidRequest("max_concurrent", str(exc)) from exc
    aliases = rules.aliases
    settings = check_settings(request.settings, aliases)
    options = rules.task_options(request.options, settings)
    children = []
    for i, child in enumerate(request.children):
        if child.priority is not None:
            check_priority(child.priority, f"children[{i}].priority")
        if child.settings is not None:
            child = replace(child, settings=check_settings(child.settings, aliases))
        if child.output_schema is not None:
            turn = rules.follow_up(
                TurnOverrides(output_schema=child.output_schema), options.session, settings
            )
            child = replace(child, output_schema=turn.output_schema)
        children.append(child)
    return replace(
        request,
        options=options,
        settings=settings,
        children=tuple(children),
        max_runtime_s=check_max_runtime(request.max_runtime_s),
        workspace=resolved_workspace(request.workspace),
    )
