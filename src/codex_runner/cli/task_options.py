"""The task and turn options of ``task submit``, ``task message`` and ``task resume``, read
from flags into the API's request fields.

Only the command line's own shapes are handled here (``KEY=VALUE`` pairs, ``@file`` text, a
schema file, image files); every rule about the values is the daemon's, so a value the API
refuses is refused by ``request_body`` naming its flag, exactly as the daemon would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from codex_runner.cli.render import error_exit
from codex_runner.service.turn_inputs import IMAGE_TYPES, MAX_IMAGE_BYTES

USAGE = 2
MEDIA_TYPES = {suffix: media for media, suffix in IMAGE_TYPES.items()} | {".jpeg": "image/jpeg"}
MAX_SCHEMA_FILE_BYTES = 1024 * 1024  # the API takes far less; a larger file is a mistake

# One turn's overrides: the same flags on submit (summary, output schema, images), message
# and resume (all of them).
Summary = Annotated[
    str | None,
    typer.Option(help="Reasoning summary for the turn: auto | concise | detailed | none."),
]
OutputSchema = Annotated[
    Path | None,
    typer.Option(
        help="A JSON Schema file the turn's final message must match; the task's result is "
        "then the parsed JSON.",
        show_default=False,
    ),
]
Images = Annotated[
    list[Path] | None,
    typer.Option(
        "--image",
        help="An image for the turn (repeat for several): a file in the task's workspace is "
        "named by its path there, any other is uploaded.",
        show_default=False,
    ),
]
TurnModel = Annotated[str | None, typer.Option(help="Model for this turn only.")]
TurnEffort = Annotated[str | None, typer.Option(help="Reasoning effort for this turn only.")]
TurnSandbox = Annotated[
    str | None,
    typer.Option(help="read-only | workspace-write | danger-full-access, this turn only."),
]
TurnApprovalPolicy = Annotated[
    str | None, typer.Option(help="untrusted | on-request | never, this turn only.")
]
TurnCwd = Annotated[
    str | None,
    typer.Option(
        "--cwd",
        help="The turn's directory inside the task's workspace (relative, or absolute inside "
        "its repo or cwd).",
        show_default=False,
    ),
]

# A task's session options and label, on submit only.
DeveloperInstructions = Annotated[
    str | None,
    typer.Option(help="Instructions Codex gets as the developer's (@FILE reads a file)."),
]
BaseInstructions = Annotated[
    str | None, typer.Option(help="Replace Codex's own base instructions (@FILE reads a file).")
]
Personality = Annotated[str | None, typer.Option(help="none | friendly | pragmatic.")]
ServiceTier = Annotated[str | None, typer.Option(help="fast (default: the provider's own).")]
ModelProvider = Annotated[
    str | None, typer.Option(help="One of Codex's model_providers, such as openai.")
]
ConfigPairs = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        help="A Codex config override KEY=VALUE for this task (repeatable; VALUE is JSON when "
        "it parses, else text), such as model_verbosity=low.",
        show_default=False,
    ),
]
RuntimeKind = Annotated[
    str | None, typer.Option("--runtime", help="app-server | exec (default: the daemon's).")
]
Ephemeral = Annotated[
    bool, typer.Option("--ephemeral", help="Codex keeps no rollout of the thread.")
]
Purpose = Annotated[
    str | None, typer.Option(help="A short label to find the task by, such as ci/lint.")
]
MetadataPairs = Annotated[
    list[str] | None,
    typer.Option(
        "--metadata",
        help="Your own KEY=VALUE on the task (repeatable), such as ticket=ENG-42.",
        show_default=False,
    ),
]
FirstTurnCwd = Annotated[
    str | None,
    typer.Option(
        "--turn-cwd",
        help="The first turn's directory inside the workspace (relative, or absolute inside "
        "--repo/--cwd).",
        show_default=False,
    ),
]


def session_fields(
    *,
    developer_instructions: str | None,
    base_instructions: str | None,
    personality: str | None,
    service_tier: str | None,
    model_provider: str | None,
    config: Sequence[str] | None,
    runtime: str | None,
    ephemeral: bool,
    purpose: str | None,
    metadata: Sequence[str] | None,
) -> dict[str, Any]:
    """A submit's session options and label as request fields (None: not given)."""
    return {
        "developer_instructions": instructions_text(
            "--developer-instructions", developer_instructions
        ),
        "base_instructions": instructions_text("--base-instructions", base_instructions),
        "personality": personality,
        "service_tier": service_tier,
        "model_provider": model_provider,
        "config": key_values("--config", config, json_values=True) or None,
        "runtime": runtime,
        "ephemeral": ephemeral or None,
        "purpose": purpose,
        "metadata": key_values("--metadata", metadata, json_values=False) or None,
    }


def turn_fields(
    prompt: str | None,
    *,
    model: str | None,
    effort: str | None,
    summary: str | None,
    sandbox: str | None,
    approval_policy: str | None,
    cwd: str | None,
    schema: Path | None,
    images: Sequence[Path] | None,
    task_root: Callable[[], str | None],
) -> dict[str, Any]:
    """A follow-up's (message, resume) input and overrides as request fields. ``task_root``
    gives the task's repo or cwd; it is asked only when an image or an absolute --cwd must
    be placed in it (it costs a call to the daemon)."""
    needs_root = bool(images) or (cwd is not None and Path(cwd).expanduser().is_absolute())
    checked_schema = output_schema("--output-schema", schema)
    root = task_root() if needs_root else None
    return {
        **turn_input(prompt, images, root),
        "model": model,
        "effort": effort,
        "summary": summary,
        "sandbox": sandbox,
        "approval_policy": approval_policy,
        "cwd": turn_dir(cwd, root),
        "output_schema": checked_schema,
    }


def instructions_text(flag: str, value: str | None) -> str | None:
    """The text of ``--developer-instructions``/``--base-instructions``: ``@FILE`` reads FILE."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error_exit(
            f"{flag}: cannot read {path} ({_why(exc)}); give the text, or @FILE naming a "
            "readable UTF-8 file",
            USAGE,
        ) from None


def key_values(flag: str, pairs: Sequence[str] | None, *, json_values: bool) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a dict. With ``json_values`` a VALUE that parses as JSON is
    taken as that JSON (``5``, ``true``, ``["a"]``), any other as the string it is."""
    found: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise error_exit(f"{flag}: {pair!r} is not KEY=VALUE (such as {flag} a=b)", USAGE)
        if key in found:
            raise error_exit(f"{flag}: key {key!r} is given twice; give each key once", USAGE)
        found[key] = _json_or_text(raw) if json_values else raw
    return found


def output_schema(flag: str, path: Path | None) -> dict[str, Any] | None:
    """The JSON Schema in ``path``: a JSON object, or a usage error naming the file."""
    if path is None:
        return None
    path = path.expanduser()
    try:
        if path.stat().st_size > MAX_SCHEMA_FILE_BYTES:
            raise error_exit(
                f"{flag}: {path} is larger than {MAX_SCHEMA_FILE_BYTES} bytes: a JSON Schema "
                "file is small",
                USAGE,
            )
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise error_exit(f"{flag}: cannot read {path} ({_why(exc)})", USAGE) from None
    except json.JSONDecodeError as exc:
        raise error_exit(
            f"{flag}: {path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            USAGE,
        ) from None
    if not isinstance(schema, dict):
        raise error_exit(
            f"{flag}: {path} holds a JSON {type(schema).__name__}, not a JSON Schema object "
            '({"type": "object", ...})',
            USAGE,
        )
    return schema


def turn_input(
    prompt: str | None, images: Sequence[Path] | None, root: str | None
) -> dict[str, Any]:
    """The request's input fields: the prompt alone, or with images a list of items (the
    prompt as a text item first, then each image)."""
    if not images:
        return {"prompt": prompt}
    items: list[dict[str, Any]] = [{"type": "text", "text": prompt}] if prompt else []
    return {"input": items + [image_item(path, root) for path in images]}


def image_item(path: Path, root: str | None) -> dict[str, Any]:
    """A ``local_image`` item when ``path`` is inside ``root`` (the daemon reads it there),
    else an uploaded ``image`` item carrying the file's bytes."""
    full = path.expanduser().resolve()
    if not full.is_file():
        raise error_exit(f"--image: {path} is not a file", USAGE)
    media_type = MEDIA_TYPES.get(full.suffix.lower())
    if media_type is None:
        known = ", ".join(sorted(MEDIA_TYPES))
        raise error_exit(f"--image: {path} is not an image the model takes ({known})", USAGE)
    inside = _relative(full, root)
    if inside is not None:
        return {"type": "local_image", "path": inside}
    try:
        if full.stat().st_size > MAX_IMAGE_BYTES:
            raise error_exit(f"--image: {path} is larger than {MAX_IMAGE_BYTES} bytes", USAGE)
        data = full.read_bytes()
    except OSError as exc:
        raise error_exit(f"--image: cannot read {path} ({_why(exc)})", USAGE) from None
    return {"type": "image", "data": base64.b64encode(data).decode(), "media_type": media_type}


def turn_dir(value: str | None, root: str | None) -> str | None:
    """A turn's directory as the API wants it (relative to the workspace): an absolute path
    inside ``root`` becomes relative; anything else goes as given, for the daemon to judge."""
    if value is None or not Path(value).expanduser().is_absolute():
        return value
    inside = _relative(Path(value).expanduser().resolve(), root)
    return value if inside is None else inside


def _relative(full: Path, root: str | None) -> str | None:
    if root is None:
        return None
    try:
        return full.relative_to(Path(root).resolve()).as_posix() or "."
    except ValueError:
        return None


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
