"""The mock model's script: rules that say what the model answers, and their loader.

A script is a list of rules. For each model call the server finds the current turn's
prompt (the last real user message), picks the first rule whose matcher matches it, and
plays ``responses[k]`` where ``k`` is how many model calls of this turn already ended in
tool calls (see ``docs/mock-model.md``). Matching is stateless on purpose: the same script
serves any number of concurrent sessions and survives Codex restarts.

Scripts come from YAML or JSON files (:func:`load_script`) or dicts
(:meth:`Script.from_dict`). Every validation error names the rule, the response and the
step at fault and says how to fix it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class ScriptError(ValueError):
    """A script could not be loaded or is invalid; the message says where and how to fix it."""


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageStep(_Step):
    """An assistant message with this text, streamed in ``deltas`` pieces with
    ``delta_delay`` seconds between them (so a client sees it grow before it completes)."""

    message: str
    deltas: int = Field(default=1, ge=1, le=10_000)
    delta_delay: float = Field(default=0.0, ge=0, le=60)


class ReasoningStep(_Step):
    """A reasoning item whose summary is this text."""

    reasoning: str


class ShellStep(_Step):
    """An ``exec_command`` function call running ``shell`` (never a login shell)."""

    shell: str = Field(min_length=1)
    workdir: str | None = None
    # Sent as exec_command's ``yield_time_ms``: how long Codex waits for output before it
    # hands back what it has (Codex accepts 250..30000).
    timeout_ms: int | None = Field(default=None, ge=250, le=30000)
    # When set, the call asks to run outside the sandbox (``require_escalated``) with this
    # text as the approval question, which makes Codex request an approval.
    justification: str | None = None


class FileSpec(BaseModel):
    """What ``write_file`` writes: ``content`` into ``path`` (relative to the turn's cwd)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    content: str


class WriteFileStep(_Step):
    """A shell command (through ``exec_command``) that writes a file, quoting-safe."""

    write_file: FileSpec


class ApplyPatchStep(_Step):
    """An ``apply_patch`` tool call with this patch (``*** Begin Patch`` ... ``*** End Patch``)."""

    apply_patch: str = Field(min_length=1)


class DelayStep(_Step):
    """Wait this many seconds before the following step."""

    delay: float = Field(ge=0, le=3600)


class HttpErrorStep(_Step):
    """Answer the whole request with this HTTP status (and optional body) instead of a stream."""

    http_error: int = Field(ge=400, le=599)
    body: str | None = None


class CutStep(_Step):
    """Drop the connection mid-stream: no ``response.completed`` ever arrives."""

    cut: Literal[True]


class HangStep(_Step):
    """Keep the stream open without completing it until the client leaves or the server stops."""

    hang: Literal[True]


class EchoStep(_Step):
    """An assistant message echoing the last user text and the earlier user messages."""

    echo: Literal[True]


class McpCall(BaseModel):
    """Which MCP tool ``mcp_tool`` calls, and with what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: str = Field(min_length=1, description="The server's name in Codex's mcp_servers.")
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    # A script cannot know what an earlier call answered (say, the id of a task it made):
    # each of these arguments is group 1 of the regex's first match in the latest tool
    # output of the turn.
    arguments_from_output: dict[str, str] = Field(default_factory=dict)

    @field_validator("arguments_from_output")
    @classmethod
    def _one_group(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                groups = re.compile(pattern).groups
            except re.error as exc:
                raise ValueError(f"arguments_from_output.{name}: invalid regex: {exc}") from None
            if groups < 1:
                raise ValueError(
                    f"arguments_from_output.{name}: the regex needs a group, e.g. "
                    '\'"id": "([^"]+)"\', whose match becomes the argument'
                )
        return value


class McpToolStep(_Step):
    """A call of a tool of one of Codex's MCP servers (``mcp_servers`` in its config)."""

    mcp_tool: McpCall


Step: TypeAlias = (
    MessageStep
    | ReasoningStep
    | ShellStep
    | WriteFileStep
    | ApplyPatchStep
    | DelayStep
    | HttpErrorStep
    | CutStep
    | HangStep
    | EchoStep
    | McpToolStep
)

# The key that identifies each step kind; every other key of a step is an option of it.
STEP_KINDS: dict[str, type[_Step]] = {
    "message": MessageStep,
    "reasoning": ReasoningStep,
    "shell": ShellStep,
    "write_file": WriteFileStep,
    "apply_patch": ApplyPatchStep,
    "delay": DelayStep,
    "http_error": HttpErrorStep,
    "cut": CutStep,
    "hang": HangStep,
    "echo": EchoStep,
    "mcp_tool": McpToolStep,
}
_OPTION_KEYS = {"workdir", "timeout_ms", "justification", "body"}
_TERMINAL_STEPS = (CutStep, HangStep, HttpErrorStep)


def _describe_pydantic_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return "; ".join(parts)


def parse_step(raw: object) -> Step:
    """Build one step from its mapping form, e.g. ``{"shell": "ls", "workdir": "sub"}``."""
    if isinstance(raw, _Step):
        return raw  # type: ignore[return-value]  # already validated (built in Python)
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"a step must be a mapping such as {{message: TEXT}}, got {type(raw).__name__} "
            f"{raw!r}; known step kinds: {', '.join(STEP_KINDS)}"
        )
    kinds = [key for key in raw if key in STEP_KINDS]
    if not kinds:
        unknown = [str(key) for key in raw if key not in _OPTION_KEYS]
        hint = ""
        for key in unknown:
            close = difflib.get_close_matches(key, STEP_KINDS, n=1)
            if close:
                hint = f"; did you mean {close[0]!r} instead of {key!r}?"
                break
        raise ValueError(
            f"step {dict(raw)!r} has no step kind; use exactly one of: "
            f"{', '.join(STEP_KINDS)}{hint}"
        )
    if len(kinds) > 1:
        raise ValueError(
            f"step {dict(raw)!r} mixes step kinds {', '.join(kinds)}; "
            "put each in its own list item (one step does one thing)"
        )
    step_class = STEP_KINDS[kinds[0]]
    try:
        return step_class.model_validate(dict(raw))  # type: ignore[return-value]
    except ValidationError as error:
        raise ValueError(f"{kinds[0]} step: {_describe_pydantic_error(error)}") from None


def _check_response(steps: Sequence[Step]) -> None:
    """Reject responses whose later steps could never be played."""
    if not steps:
        raise ValueError("a response needs at least one step, e.g. [{message: 'done'}]")
    for position, step in enumerate(steps):
        is_last = position == len(steps) - 1
        if isinstance(step, _TERMINAL_STEPS) and not is_last:
            kind = next(k for k, cls in STEP_KINDS.items() if isinstance(step, cls))
            raise ValueError(
                f"step {position}: {kind} ends the response, so the steps after it would "
                "never be played; make it the last step"
            )
        if isinstance(step, HttpErrorStep) and not all(
            isinstance(earlier, DelayStep) for earlier in steps[:position]
        ):
            raise ValueError(
                f"step {position}: http_error answers the whole request with an error status, "
                "so only delay steps may come before it; move the other steps to another "
                "response"
            )


class Rule(BaseModel):
    """Answers for turns whose prompt matches: ``responses[k]`` for the k-th model call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    match: str | None = Field(default=None, min_length=1)
    regex: str | None = Field(default=None, min_length=1)
    # Also required: a re.search match on the session's first user message (the task's
    # original prompt), so a generic follow-up ("Continue where you left off.") is told apart
    # by the session it belongs to.
    first_regex: str | None = Field(default=None, min_length=1)
    responses: list[list[Step]] = Field(min_length=1)

    @field_validator("responses", mode="before")
    @classmethod
    def _parse_responses(cls, raw: object) -> list[list[Step]]:
        if not isinstance(raw, list) or not raw:
            raise ValueError(
                "responses must be a non-empty list with one entry per model call; each entry "
                "is a list of steps. YAML:\n  responses:\n    - - message: hi"
            )
        parsed: list[list[Step]] = []
        for index, response in enumerate(raw):
            if isinstance(response, Mapping):
                raise ValueError(
                    f"responses[{index}] is a single step ({dict(response)!r}) but must be a "
                    "list of steps (one model call). In YAML write `- - message: hi` "
                    "(note the two dashes)"
                )
            if not isinstance(response, list):
                raise ValueError(
                    f"responses[{index}] must be a list of steps, got {type(response).__name__}"
                )
            steps: list[Step] = []
            for position, step in enumerate(response):
                try:
                    steps.append(parse_step(step))
                except ValueError as error:
                    raise ValueError(f"responses[{index}][{position}]: {error}") from None
            try:
                _check_response(steps)
            except ValueError as error:
                raise ValueError(f"responses[{index}]: {error}") from None
            parsed.append(steps)
        return parsed

    @field_validator("regex", "first_regex")
    @classmethod
    def _compile_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"invalid regular expression {value!r}: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> Rule:
        if self.match is not None and self.regex is not None:
            raise ValueError(
                "a rule takes `match` (substring) or `regex`, not both; drop one of them"
            )
        return self

    def matches(self, text: str, first: str | None = None) -> bool:
        """Whether this rule answers a turn whose last user text is ``text``.

        ``match`` is a case-insensitive substring test, ``regex`` a ``re.search``
        (case-sensitive unless the pattern says ``(?i)``); a rule with neither matches all.
        ``first_regex``, when given, must also find the session's first user text ``first``
        (``text`` itself when not given).
        """
        if self.first_regex is not None:
            opening = text if first is None else first
            if re.search(self.first_regex, opening) is None:
                return False
        if self.match is not None:
            return self.match.casefold() in text.casefold()
        if self.regex is not None:
            return re.search(self.regex, text) is not None
        return True


class Script(BaseModel):
    """A whole script: the ordered rules; the first matching rule wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "script") -> Script:
        """Validate a script given as plain data; raise :class:`ScriptError` when invalid."""
        if not isinstance(data, Mapping):
            raise ScriptError(
                f"{source}: a script is a mapping with a `rules` list, got {type(data).__name__}"
            )
        try:
            return cls.model_validate(dict(data))
        except ValidationError as error:
            raise ScriptError(_explain(error, data, source)) from None

    def select(self, text: str, first: str | None = None) -> tuple[int, Rule] | None:
        """The first rule matching ``text`` (and ``first``, see Rule.matches), or None."""
        for index, rule in enumerate(self.rules):
            if rule.matches(text, first):
                return index, rule
        return None


def rule_label(index: int, rule: Rule) -> str:
    """How recordings and errors name a rule: its ``name``, else ``rules[INDEX]``."""
    return rule.name if rule.name else f"rules[{index}]"


def _explain(error: ValidationError, data: Mapping[str, Any], source: str) -> str:
    """Turn pydantic's errors into lines naming the rule (by name when it has one)."""
    lines = [f"{source} is invalid:"]
    rules = data.get("rules")
    for item in error.errors():
        loc = list(item["loc"])
        where = "top level"
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            index = loc[1]
            name = None
            if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
                name = rules[index].get("name")
            where = f"rules[{index}]" + (f" ({name!r})" if name else "")
            rest = [str(p) for p in loc[2:]]
            if rest:
                where += "." + ".".join(rest)
        elif loc:
            where = ".".join(str(p) for p in loc)
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            allowed = "name, match, regex, responses" if len(loc) == 3 else "description, rules"
            message = f"unknown key {key!r}; allowed keys here: {allowed}"
        elif item["type"] == "missing":
            message = f"missing required key {str(loc[-1]) if loc else '?'!r}"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def load_script(path: str | Path) -> Script:
    """Load a script from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"script file not found: {file}") from None
    except OSError as error:
        raise ScriptError(f"cannot read script file {file}: {error}") from None
    return parse_script_text(text, source=str(file), is_json=file.suffix.lower() == ".json")


def parse_script_text(text: str, *, source: str = "script", is_json: bool = False) -> Script:
    """Parse a script from YAML (or JSON, which YAML also reads) text."""
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise ScriptError(f"{source}: invalid JSON: {error}") from None
    except yaml.YAMLError as error:
        raise ScriptError(f"{source}: invalid YAML: {error}") from None
    if data is None:
        raise ScriptError(f"{source} is empty; a script needs a `rules` list")
    return Script.from_dict(data, source=source)


def load_builtin_script(name: str) -> Script:
    """Load a script shipped with codex-runner, e.g. ``"demo"`` (``scripts/demo.yaml``)."""
    resource = resources.files("codex_runner.mockmodel").joinpath("scripts", f"{name}.yaml")
    if not resource.is_file():
        raise ScriptError(f"no built-in mock-model script named {name!r}")
    return parse_script_text(resource.read_text(encoding="utf-8"), source=f"built-in {name}")
