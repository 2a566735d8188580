"""Request fields for a task's session options and a turn's input and overrides.

Types are checked here (a 422 names the field); the rules (which config keys, what a label
looks like, whether the runtime can honour an option) are the service's, so every adapter
is judged alike (:mod:`codex_runner.service.option_checks`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from codex_runner.config import ApprovalPolicy, SandboxMode
from codex_runner.domain.task_options import (
    INSTRUCTIONS_MAX,
    METADATA_VALUE_MAX,
)

Personality = Literal["none", "friendly", "pragmatic"]
Summary = Literal["auto", "concise", "detailed", "none"]
RuntimeName = Literal["app-server", "exec"]
Instructions = Annotated[str | None, Field(default=None, max_length=INSTRUCTIONS_MAX)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TextItem(_Fields):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=200_000)


class LocalImageItem(_Fields):
    type: Literal["local_image"]
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="An image file in the task's workspace (relative to it, or absolute "
        "inside it).",
    )


class ImageItem(_Fields):
    type: Literal["image"]
    data: str = Field(min_length=1, description="The image's bytes, base64 (at most 20 MB).")
    media_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


InputItemIn = Annotated[TextItem | LocalImageItem | ImageItem, Field(discriminator="type")]
TurnInputIn = Annotated[
    list[InputItemIn] | None,
    Field(
        default=None,
        max_length=32,
        description="The turn's input as items (text, local_image, image) instead of prompt.",
    ),
]


class SessionFields(_Fields):
    """A task's Codex session options (fixed for its life)."""

    developer_instructions: Instructions = None
    base_instructions: Instructions = None
    personality: Personality | None = None
    service_tier: Literal["fast"] | None = Field(default=None, description="Default: none.")
    model_provider: str | None = Field(default=None, max_length=64)
    config: dict[str, Any] | None = Field(
        default=None,
        description="Codex config overrides for this task, by dotted key; see docs/programs.md "
        "for the keys a task may set.",
    )
    runtime: RuntimeName | None = Field(
        default=None, description="Default: the daemon's [codex] runtime."
    )
    ephemeral: bool = Field(default=False, description="Codex keeps no rollout of the thread.")
    notify: list[Annotated[str, Field(max_length=2000)]] | None = Field(
        default=None, max_length=8, description="Webhooks (names or URLs) told about this task."
    )
    purpose: str | None = Field(
        default=None, max_length=64, description="A short label: GET /v1/tasks?purpose=..."
    )
    metadata: dict[str, Annotated[str, Field(max_length=METADATA_VALUE_MAX)]] | None = Field(
        default=None,
        description="Your own string keys and values: GET /v1/tasks?metadata.KEY=VALUE.",
    )


class OutputFields(_Fields):
    summary: Summary | None = Field(default=None, description="Reasoning summary, this turn.")
    output_schema: dict[str, Any] | None = Field(
        default=None,
        description="A JSON Schema the turn's final message must match; the task's result "
        "is then the parsed JSON (a reply that does not match fails the turn).",
    )


class TurnFields(OutputFields):
    """Overrides for one turn (a follow-up or a resume)."""

    model: str | None = Field(default=None, max_length=200)
    effort: str | None = Field(default=None, max_length=50)
    sandbox: SandboxMode | None = None
    approval_policy: ApprovalPolicy | None = None
    cwd: str | None = Field(
        default=None, max_length=4096, description="A directory inside the workspace."
    )


class OneInput(_Fields):
    """Exactly one of prompt (text) and input (items); checked where the body becomes the
    service's input (``wire_inputs.turn_input_of``), so the error names the field."""

    prompt: str | None = Field(default=None, min_length=1, max_length=200_000)
    input: TurnInputIn = None
