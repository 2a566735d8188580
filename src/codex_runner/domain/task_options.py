"""What a caller may set beyond the prompt: a task's session options, one turn's overrides,
and the task's own label (purpose) and metadata.

Session options are fixed for a task's life: Codex takes them when its thread starts (and
again at each resume), so they hold for every turn. Turn overrides hold for one turn only:
the runtime puts the thread's own settings back on the next turn (Codex would otherwise keep
an override for the turns that follow).

Every check here is pure (no file system): each returns the value, normalised, or raises
:class:`InvalidOption` naming the field. The service adds the checks that need the disk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from codex_runner.domain.exec_flags import ESCAPE_HATCH_KEYS as EXEC_ESCAPE_HATCH_KEYS

# Codex 0.163's values (its Personality, ReasoningSummary; ``fast`` is its one named tier).
PERSONALITIES: tuple[str, ...] = ("none", "friendly", "pragmatic")
SERVICE_TIERS: tuple[str, ...] = ("fast",)
REASONING_SUMMARIES: tuple[str, ...] = ("auto", "concise", "detailed", "none")
RUNTIME_KINDS: tuple[str, ...] = ("app-server", "exec")

INSTRUCTIONS_MAX = 100_000
PURPOSE = re.compile(r"[a-z0-9][a-z0-9._:/-]{0,63}")
# Metadata is a small flat map of strings, the shape payment and ticketing APIs use: it is
# for finding tasks again (``metadata.KEY=VALUE``), not for storing documents.
METADATA_MAX_KEYS = 32
METADATA_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
METADATA_VALUE_MAX = 500
CONFIG_MAX_BYTES = 16_000
OUTPUT_SCHEMA_MAX_BYTES = 64_000
MODEL_PROVIDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CONFIG_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")

# Codex config keys (the first part of a dotted key) a task may set for itself: how the
# model reasons, talks and reads the project. They cannot widen what Codex may touch.
SAFE_CONFIG_KEYS = frozenset(
    {
        "model_reasoning_effort",
        "model_reasoning_summary",
        "model_verbosity",
        "model_supports_reasoning_summaries",
        "model_context_window",
        "model_auto_compact_token_limit",
        "hide_agent_reasoning",
        "show_raw_agent_reasoning",
        "project_doc_max_bytes",
        "project_doc_fallback_filenames",
        "tool_output_token_limit",
        "web_search",
        "tools",
        "features",
    }
)
# Keys that loosen the sandbox or approvals, or run programs outside the sandbox: a task may
# set them only when the daemon's ``[codex] task_config_keys`` names them.
ESCAPE_HATCH_KEYS = EXEC_ESCAPE_HATCH_KEYS | frozenset(
    {"mcp_servers", "notify", "shell_environment_policy", "model_providers"}
)


class InvalidOption(ValueError):
    """A value a caller gave that breaks a rule; ``field`` names the request field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class SessionOptions:
    """A task's Codex session options; None (or empty) is the daemon's default."""

    developer_instructions: str | None = None
    base_instructions: str | None = None
    personality: str | None = None
    service_tier: str | None = None
    model_provider: str | None = None
    # Codex config overrides by dotted key (``model_verbosity``, ``features.web_search``).
    config: Mapping[str, Any] = field(default_factory=dict)
    ephemeral: bool = False
    runtime: str | None = None  # app-server | exec; None: the daemon's [codex] runtime
    # Webhooks (names or URLs) told about this task too; not Codex's: docs/notifications.md.
    notify: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The options that differ from the default (what the store keeps)."""
        default = SessionOptions()
        return {
            f.name: dict(getattr(self, f.name)) if f.name == "config" else getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SessionOptions:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in names}
        if "notify" in values:
            values["notify"] = tuple(values["notify"])
        return cls(**values)


@dataclass(frozen=True)
class TurnOverrides:
    """Settings for one turn; None keeps the task's own. ``cwd`` is relative to the
    workspace; ``output_schema`` is a JSON Schema the final message must match."""

    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    sandbox: str | None = None
    approval_policy: str | None = None
    cwd: str | None = None
    output_schema: Mapping[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return self == TurnOverrides()

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TurnOverrides:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass(frozen=True)
class TaskOptions:
    """What a submit may add to prompt, workspace and settings: the session options, the
    task's label and metadata, and the first turn's overrides."""

    session: SessionOptions = field(default_factory=SessionOptions)
    purpose: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    turn: TurnOverrides = field(default_factory=TurnOverrides)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session.to_json(),
            "purpose": self.purpose,
            "metadata": dict(self.metadata),
            "turn": self.turn.to_json(),
        }


# --- checks ------------------------------------------------------------------------------


def check_instructions(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidOption(name, f"{name} is text: what Codex should be told; omit it for none")
    if len(value) > INSTRUCTIONS_MAX:
        raise InvalidOption(name, f"{name} has at most {INSTRUCTIONS_MAX} characters")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise InvalidOption(
            name,
            f"{name} {shown(value)} is not one of {', '.join(choices)}; omit it for the default",
        )
    return str(value)


def check_model_provider(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not MODEL_PROVIDER.fullmatch(value):
        raise InvalidOption(
            "model_provider",
            f"model_provider {shown(value)} is not a provider id (letters, digits, '_', '.', "
            "'-'): name one of Codex's model_providers, such as 'openai'",
        )
    return value


def check_config(value: object, allowed_extra: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Codex config overrides: dotted keys whose first part is on the safe list (or named in
    ``allowed_extra`` by the daemon's config), JSON values that TOML can hold (no null)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidOption(
            "config", 'config is an object of Codex config keys: {"model_verbosity": "low"}'
        )
    if len(json.dumps(value)) > CONFIG_MAX_BYTES:
        raise InvalidOption("config", f"config is at most {CONFIG_MAX_BYTES} bytes of JSON")
    for key, item in value.items():
        if not isinstance(key, str) or not CONFIG_KEY.fullmatch(key):
            raise InvalidOption(
                "config", f"config key {shown(key)} is not a dotted Codex config key"
            )
        head = key.split(".", 1)[0]
        if head not in SAFE_CONFIG_KEYS and head not in allowed_extra:
            why = (
                "it loosens the sandbox or approvals, or runs programs outside them"
                if head in ESCAPE_HATCH_KEYS
                else "it is not on the list a task may set"
            )
            raise InvalidOption(
                "config",
                f"config key {key!r} is refused: {why}. A task may set "
                f"{', '.join(sorted(SAFE_CONFIG_KEYS))}; the daemon's [codex] task_config_keys "
                "can allow more",
            )
        if _holds_null(item):
            raise InvalidOption(
                "config", f"config key {key!r}: null has no meaning in Codex's config"
            )
    return dict(value)


def check_purpose(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not PURPOSE.fullmatch(value):
        raise InvalidOption(
            "purpose",
            f"purpose {shown(value)} is a short label: 1-64 of lower-case letters, digits and "
            "'._:/-', starting with a letter or digit (such as 'review' or 'ci/lint')",
        )
    return value


def check_metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidOption("metadata", 'metadata is an object of strings: {"ticket": "ENG-42"}')
    if len(value) > METADATA_MAX_KEYS:
        raise InvalidOption("metadata", f"metadata has at most {METADATA_MAX_KEYS} keys")
    for key, item in value.items():
        if not isinstance(key, str) or not METADATA_KEY.fullmatch(key):
            raise InvalidOption(
                "metadata",
                f"metadata key {shown(key)}: 1-64 of letters, digits and '_.:-'",
            )
        if not isinstance(item, str) or len(item) > METADATA_VALUE_MAX:
            raise InvalidOption(
                "metadata",
                f"metadata[{key!r}] is a string of at most {METADATA_VALUE_MAX} characters "
                '(write numbers as text: "42")',
            )
    return dict(value)


def check_output_schema(value: object) -> dict[str, Any] | None:
    """A JSON Schema (an object); it is checked as a schema by the service's validator."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidOption(
            "output_schema", 'output_schema is a JSON Schema object: {"type": "object", ...}'
        )
    if len(json.dumps(value)) > OUTPUT_SCHEMA_MAX_BYTES:
        raise InvalidOption(
            "output_schema", f"output_schema is at most {OUTPUT_SCHEMA_MAX_BYTES} bytes of JSON"
        )
    return dict(value)


def check_turn_cwd(value: object) -> str | None:
    """A directory relative to the workspace, never outside it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidOption(
            "cwd", "a turn's cwd is a directory inside the workspace, such as 'src'"
        )
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts or any(ord(c) < 32 for c in value):
        raise InvalidOption(
            "cwd",
            f"a turn's cwd {value!r} must stay inside the workspace: give a relative path "
            "without '..'",
        )
    return "/".join(p for p in parts if p not in ("", ".")) or "."


def _holds_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Mapping):
        return any(_holds_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_null(v) for v in value)
    return False


def shown(value: object) -> str:
    """``value`` as the caller wrote it in JSON (``true``, ``"5"``, ``NaN``), cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
