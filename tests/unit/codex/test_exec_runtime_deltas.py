"""The exec runtime hands a turn's partial items to its delta listener as they stream.

Codex 0.163 prints ``item.updated`` only for a todo list (the plan tool, which it does not
offer the scripted model), so a stand-in for ``codex`` prints the lines of such a turn.
"""

from __future__ import annotations

import json
from pathlib import Path

from codex_runner.codex.exec_runtime import ExecRuntime
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.config import load_config
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.events import EventKind

THREAD = "01a1ff78-7c7e-7fa2-9a97-f77b589a6092"


def _todo(kind: str, *done: bool) -> dict[str, object]:
    items = [{"text": f"step {i}", "completed": d} for i, d in enumerate(done)]
    return {"type": kind, "item": {"id": "item_1", "type": "todo_list", "items": items}}


LINES = [
    {"type": "thread.started", "thread_id": THREAD},
    {"type": "turn.started"},
    _todo("item.started", False, False),
    _todo("item.updated", True, False),
    {"type": "item.started", "item": {"id": "item_2", "type": "command_execution",
                                      "command": "make", "aggregated_output": ""}},
    {"type": "item.updated", "item": {"id": "item_2", "type": "command_execution",
                                      "command": "make", "aggregated_output": "built\n"}},
    {"type": "item.completed", "item": {"id": "item_2", "type": "command_execution",
                                        "command": "make", "aggregated_output": "built\nok\n",
                                        "exit_code": 0, "status": "completed"}},
    _todo("item.completed", True, True),
    {"type": "item.completed", "item": {"id": "item_3", "type": "agent_message", "text": "done"}},
    {"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 2}},
]  # fmt: skip


def fake_codex(tmp_path: Path) -> Path:
    script = tmp_path / "codex"
    body = "\n".join(json.dumps(line) for line in LINES)
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "codex-cli 0.163.0"; exit 0; fi\n'
        f"cat <<'LINES'\n{body}\nLINES\n"
    )
    script.chmod(0o755)
    return script


async def test_an_exec_turns_growing_items_reach_the_delta_listener_and_not_its_events(
    tmp_path: Path,
) -> None:
    config = load_config(tmp_path, overrides={"runtime": "exec", "bin": str(fake_codex(tmp_path))})
    deltas: list[Delta] = []
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=tmp_path))
        turn = await runtime.start_turn(thread.id, "plan it")
        turn.on_delta(deltas.append)
        result = await turn.wait(30)

    assert result.ok, result.error
    assert deltas == [
        Delta("item_1", DeltaKind.PLAN, "[ ] step 0\n[ ] step 1", replaces=True),
        Delta("item_1", DeltaKind.PLAN, "[x] step 0\n[ ] step 1", replaces=True),
        Delta("item_2", DeltaKind.COMMAND_OUTPUT, "built\n"),
    ]
    # The durable record is the completed items only: deltas never become events.
    events = [e async for e in turn.events()]
    completed = [e.item for e in events if e.kind is EventKind.ITEM_COMPLETED and e.item]
    assert [(i.id, i.text or i.output) for i in completed] == [
        ("item_2", "built\nok\n"),
        ("item_1", "[x] step 0\n[x] step 1"),
        ("item_3", "done"),
    ]
