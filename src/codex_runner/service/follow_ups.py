"""Follow-ups: a task's next turn asked for (a message, or a resume with new input), with
that turn's input and overrides checked before the task is queued again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from codex_runner.domain import durable_event
from codex_runner.domain.task import Task
from codex_runner.domain.task_options import TurnOverrides
from codex_runner.domain.transitions import Action
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.option_checks import OptionRules
from codex_runner.service.turn_inputs import InputItem, turn_input
from codex_runner.service.validation import check_images
from codex_runner.service.writer import TaskWriter
from codex_runner.workspace.protocol import Workspaces


class FollowUps:
    def __init__(
        self,
        writer: TaskWriter,
        workspaces: Workspaces,
        rules: OptionRules,
        *,
        uploads: Path | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._workspaces = workspaces
        self._rules = rules
        self._uploads = uploads
        self._clock = clock

    async def resume(
        self,
        task_id: str,
        prompt: str | Sequence[InputItem] | None,
        overrides: TurnOverrides | None,
    ) -> Task:
        task = await self._writer.get(task_id)
        fields: dict[str, Any] = {}
        if prompt is not None and not (isinstance(prompt, str) and not prompt.strip()):
            text, images = await self._turn_input(task, prompt, ())
            fields = {"pending_message": text, "pending_images": images}
        if overrides is not None:
            fields["next_turn"] = self._rules.follow_up(overrides, task.session, task.settings)
        return await self._writer.transition(
            task, Action.RESUME, reason="resumed by request", **fields
        )

    async def message(
        self,
        task_id: str,
        prompt: str | Sequence[InputItem],
        images: Sequence[str],
        overrides: TurnOverrides | None,
    ) -> Task:
        if isinstance(prompt, str) and not prompt.strip():
            raise InvalidRequest("prompt", "the message is empty: say what the task should do")
        task = await self._writer.get(task_id)
        next_turn = self._rules.follow_up(overrides or TurnOverrides(), task.session, task.settings)
        text, checked = await self._turn_input(task, prompt, images)
        extra = [durable_event.message_received(text, at=self._clock())]
        return await self._writer.transition(
            task,
            Action.MESSAGE,
            reason="follow-up message",
            extra=extra,
            pending_message=text,
            pending_images=checked,
            next_turn=next_turn,
        )

    async def _turn_input(
        self, task: Task, prompt: str | Sequence[InputItem], images: Sequence[str]
    ) -> tuple[str, tuple[str, ...]]:
        """A follow-up's text and image paths; a workspace image is looked for in the
        task's workspace (its worktree once made, else its repository or directory)."""
        checked = check_images(images)
        if isinstance(prompt, str):
            return prompt, checked
        located = await self._workspaces.locate(task.id, task.workspace)
        root = located.path if located is not None else task.workspace.repo or task.workspace.cwd
        given = turn_input(prompt, Path(root or "/"), self._uploads)
        return given.text, checked + given.images
