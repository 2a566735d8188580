"""The MCP SDK's own client against a real daemon (real codex, scripted model), over both
transports: a task with session options and an output schema ends with its validated
result, and list_tasks finds it by purpose and metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..daemon.conftest import STRUCTURED_REPLY
from .conftest import StartDaemon, Tools, mcp_client

pytestmark = [pytest.mark.acceptance, pytest.mark.parametrize("transport", ["http", "stdio"])]

GRADE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"enum": ["pass", "fail"]}, "score": {"type": "integer"}},
    "required": ["verdict", "score"],
    "additionalProperties": False,
}


async def test_a_task_with_options_and_an_output_schema_gives_its_result_and_is_found_again(
    start_daemon: StartDaemon, tmp_path: Path, transport: str
) -> None:
    daemon = await start_daemon(mcp={"cwd": str(tmp_path)})
    async with mcp_client(daemon, transport) as client:
        tools = Tools(client)
        task = await tools.ok(
            "submit_task",
            prompt="grade it",
            developer_instructions="Reply with the grade as JSON.",
            config={"model_verbosity": "low"},
            purpose="grading",
            metadata={"ticket": "ENG-7"},
            output_schema=GRADE_SCHEMA,
            summary="concise",
        )
        waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=60)
        found = await tools.ok("list_tasks", purpose="grading", metadata={"ticket": "ENG-7"})
        missed = await tools.ok("list_tasks", metadata={"ticket": "ENG-8"})

    assert waited["outcome"] == "settled", waited
    done = waited["task"]
    assert done["state"] == "completed", done
    assert (done["has_result"], done["final_message"]) == (True, STRUCTURED_REPLY)
    assert done["result"] == {"verdict": "pass", "score": 7}
    assert done["developer_instructions"] == "Reply with the grade as JSON."
    assert [t["id"] for t in found["tasks"]] == [task["id"]]
    assert missed["tasks"] == []
