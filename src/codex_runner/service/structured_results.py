"""Structured results: a turn with an output schema must end with JSON that matches it.

Codex asks the model for a reply in the schema's shape, but a model (or a provider without
structured outputs) can still answer otherwise; the runner checks the final message itself,
so that a caller who asked for a shape never reads a result that does not have it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators

from codex_runner.service.errors import InvalidRequest

# A reply wrapped in a Markdown code fence (```json ... ```) still counts: models do that.
_FENCED = re.compile(r"\A```[A-Za-z0-9_-]*\s*\n(?P<body>.*)\n```\s*\Z", re.DOTALL)
MAX_PROBLEMS = 3


@dataclass(frozen=True)
class StructuredResult:
    json_text: str | None  # the validated value as compact JSON, None when it did not match
    problem: str | None = None  # why it did not match

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_schema(schema: Mapping[str, Any]) -> None:
    """Refuse a schema that is not valid JSON Schema (naming the field output_schema)."""
    validator = validators.validator_for(schema)
    try:
        validator.check_schema(dict(schema))
    except schema_errors.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        raise InvalidRequest(
            "output_schema", f"output_schema is not a valid JSON Schema at {where}: {exc.message}"
        ) from None


def structured_result(schema: Mapping[str, Any], final_message: str | None) -> StructuredResult:
    """The final message parsed and checked against ``schema``."""
    text = (final_message or "").strip()
    fenced = _FENCED.match(text)
    if fenced:
        text = fenced.group("body").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        shown = "an empty reply" if not text else f"not JSON ({exc.msg} at line {exc.lineno})"
        return StructuredResult(None, f"the final message is {shown}")
    validator = validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    if errors:
        problems = [
            f"{'/'.join(str(p) for p in e.path) or 'the value'}: {e.message}"
            for e in errors[:MAX_PROBLEMS]
        ]
        more = f" (and {len(errors) - MAX_PROBLEMS} more)" if len(errors) > MAX_PROBLEMS else ""
        return StructuredResult(None, "; ".join(problems) + more)
    return StructuredResult(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
