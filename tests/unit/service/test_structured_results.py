"""A turn's final message checked against its output schema."""

from __future__ import annotations

import json

import pytest

from codex_runner.service.errors import InvalidRequest
from codex_runner.service.structured_results import check_schema, structured_result

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
    "required": ["ok", "n"],
}


@pytest.mark.parametrize(
    "reply",
    ['{"ok": true, "n": 2}', ' \n{"ok":true,"n":2}\n', '```json\n{"ok": true, "n": 2}\n```'],
)
def test_a_matching_reply_is_the_result_as_compact_json(reply: str) -> None:
    result = structured_result(SCHEMA, reply)
    assert result.ok and json.loads(result.json_text or "") == {"ok": True, "n": 2}


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "empty reply"),
        (None, "empty reply"),
        ("sure, here it is", "not JSON"),
        ('{"ok": "yes", "n": 2}', "ok: 'yes' is not of type 'boolean'"),
        ('{"ok": true}', "'n' is a required property"),
    ],
)
def test_a_reply_that_misses_says_why(reply: str | None, problem: str) -> None:
    result = structured_result(SCHEMA, reply)
    assert not result.ok and result.json_text is None
    assert problem in (result.problem or "")


def test_a_schema_that_is_not_json_schema_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_schema({"type": "nonsense"})
    assert caught.value.field == "output_schema"
    check_schema(SCHEMA)
