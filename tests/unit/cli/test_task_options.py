"""The task and turn options of ``task submit``, ``message``, ``resume``, ``list`` and
``show``: each flag reaches the request the daemon gets, and a bad value is refused before
anything is sent, naming the flag (or the file) and the fix."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from codex_runner.domain.task import TaskState
from codex_runner.http.wire_tasks import TaskOut

from .conftest import CliRun, FakeDaemon, one_error_line, task_out

PNG = b"\x89PNG\r\n\x1a\n fake image bytes"


def schema_file(tmp_path: Path, content: str | None = None) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(content if content is not None else json.dumps({"type": "object"}))
    return path


def submitted(fake: FakeDaemon) -> dict[str, object]:
    (body,) = fake.bodies("POST", "/v1/tasks")
    assert isinstance(body, dict)
    return body


def test_submit_sends_every_session_option_and_the_first_turns_overrides(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    notes = tmp_path / "dev.md"
    notes.write_text("Answer in French.")
    result = cli(
        "task", "submit", "fix it", "--cwd", str(work),
        "--developer-instructions", f"@{notes}",
        "--base-instructions", "You are terse.",
        "--personality", "pragmatic",
        "--service-tier", "fast",
        "--model-provider", "openai",
        "--config", "model_verbosity=low",
        "--config", "tool_output_token_limit=4000",
        "--config", 'features.web_search={"on": true}',
        "--runtime", "exec",
        "--ephemeral",
        "--purpose", "ci/lint",
        "--metadata", "ticket=ENG-42",
        "--metadata", "team=a=b",
        "--output-schema", str(schema_file(tmp_path)),
        "--summary", "concise",
        "--turn-cwd", str(work / "src"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    body = submitted(fake)
    assert body["prompt"] == "fix it"
    assert {k: v for k, v in body.items() if k not in ("prompt", "cwd")} == {
        "developer_instructions": "Answer in French.",
        "base_instructions": "You are terse.",
        "personality": "pragmatic",
        "service_tier": "fast",
        "model_provider": "openai",
        "config": {
            "model_verbosity": "low",
            "tool_output_token_limit": 4000,
            "features.web_search": {"on": True},
        },
        "runtime": "exec",
        "ephemeral": True,
        "purpose": "ci/lint",
        "metadata": {"ticket": "ENG-42", "team": "a=b"},
        "output_schema": {"type": "object"},
        "summary": "concise",
        "turn_cwd": "src",
    }


def test_submit_without_options_sends_none_of_them(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    result = cli("task", "submit", "fix it", "--cwd", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert set(submitted(fake)) == {"prompt", "cwd"}


def test_images_in_the_workspace_go_by_path_and_others_are_uploaded(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / "shots").mkdir(parents=True)
    (work / "shots" / "bug.png").write_bytes(PNG)
    outside = tmp_path / "photo.JPEG"
    outside.write_bytes(b"jpeg bytes")

    result = cli(
        "task", "submit", "what is wrong here?", "--cwd", str(work),
        "--image", str(work / "shots" / "bug.png"), "--image", str(outside),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    body = submitted(fake)
    assert "prompt" not in body
    assert body["input"] == [
        {"type": "text", "text": "what is wrong here?"},
        {"type": "local_image", "path": "shots/bug.png"},
        {
            "type": "image",
            "data": base64.b64encode(b"jpeg bytes").decode(),
            "media_type": "image/jpeg",
        },
    ]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--config", "model_verbosity"], "--config: 'model_verbosity' is not KEY=VALUE"),
        (["--config", "=low"], "--config: '=low' is not KEY=VALUE"),
        (["--metadata", "a=1", "--metadata", "a=2"], "--metadata: key 'a' is given twice"),
        (["--runtime", "docker"], "--runtime: "),
        (["--personality", "grumpy"], "--personality: "),
        (["--developer-instructions", "@/nonexistent/dev.md"], "/nonexistent/dev.md"),
        (["--image", "/nonexistent/x.png"], "--image: /nonexistent/x.png is not a file"),
    ],
)
def test_a_bad_option_is_refused_naming_its_flag_before_anything_is_sent(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, flags: list[str], expected: str
) -> None:
    result = cli("task", "submit", "fix it", "--cwd", str(tmp_path), *flags)

    assert result.exit_code == 2, result.output
    assert expected in one_error_line(result)
    assert fake.bodies("POST", "/v1/tasks") == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON (line 1"),
        ("[1, 2]", "holds a JSON list, not a JSON Schema object"),
    ],
)
def test_a_bad_output_schema_file_is_refused_naming_the_file(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "missing.json" if content is None else schema_file(tmp_path, content)

    result = cli("task", "submit", "x", "--cwd", str(tmp_path), "--output-schema", str(path))

    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert line.startswith("error: --output-schema: ")
    assert str(path) in line and expected in line
    assert fake.bodies("POST", "/v1/tasks") == []


def test_an_image_of_an_unknown_kind_is_refused_naming_the_kinds(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not an image")

    result = cli(
        "task", "submit", "x", "--cwd", str(tmp_path), "--image", str(tmp_path / "notes.txt")
    )

    assert result.exit_code == 2
    assert ".png" in one_error_line(result)


def test_message_and_resume_send_the_turns_overrides(
    cli: CliRun, fake: FakeDaemon, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "shot.webp").write_bytes(b"webp")
    # The fake refuses actions on settled tasks; the daemon takes a message on either.
    fake.add_task(task_out("t_a", state=TaskState.INTERRUPTED, cwd=str(tmp_path)))
    overrides = [
        "--model", "m2", "--effort", "high", "--summary", "detailed",
        "--sandbox", "read-only", "--approval-policy", "never",
        "--output-schema", str(schema_file(tmp_path)),
    ]  # fmt: skip

    messaged = cli(
        "task", "message", "t_a", "and the docs", *overrides,
        "--cwd", str(tmp_path / "docs"), "--image", str(tmp_path / "shot.webp"),
    )  # fmt: skip
    fake.tasks["t_a"] = fake.tasks["t_a"].model_copy(update={"state": TaskState.INTERRUPTED})
    resumed = cli("task", "resume", "t_a", *overrides, "--cwd", "docs")

    assert messaged.exit_code == 0, messaged.output
    assert resumed.exit_code == 0, resumed.output
    expected = {
        "model": "m2",
        "effort": "high",
        "summary": "detailed",
        "sandbox": "read-only",
        "approval_policy": "never",
        "output_schema": {"type": "object"},
        "cwd": "docs",
    }
    assert fake.bodies("POST", "/v1/tasks/t_a/message") == [
        {
            "input": [
                {"type": "text", "text": "and the docs"},
                {"type": "local_image", "path": "shot.webp"},
            ],
            **expected,
        }
    ]
    assert fake.bodies("POST", "/v1/tasks/t_a/resume") == [expected]


def test_list_filters_by_purpose_and_metadata(cli: CliRun, fake: FakeDaemon) -> None:
    result = cli(
        "task", "list", "--purpose", "review", "--metadata", "ticket=ENG-42",
        "--metadata", "team=core",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    (query,) = fake.bodies("GET", "/v1/tasks")
    assert query["purpose"] == "review"
    assert (query["metadata.ticket"], query["metadata.team"]) == ("ENG-42", "core")
    bad = cli("task", "list", "--metadata", "ticket")
    assert bad.exit_code == 2
    assert "--metadata: 'ticket' is not KEY=VALUE" in one_error_line(bad)


def test_show_has_the_options_that_are_set_and_the_result(cli: CliRun, fake: FakeDaemon) -> None:
    fake.add_task(
        task_out(
            "t_a",
            state=TaskState.COMPLETED,
            purpose="ci/lint",
            metadata={"ticket": "ENG-42"},
            runtime="exec",
            personality="friendly",
            model_provider="openai",
            config={"model_verbosity": "low"},
            developer_instructions="Answer in French.",
            result={"verdict": "pass", "issues": []},
            has_result=True,
        )
    )
    fake.add_task(task_out("t_b", state=TaskState.COMPLETED))

    shown = cli("task", "show", "t_a").stdout
    plain = cli("task", "show", "t_b").stdout
    as_json = TaskOut.model_validate_json(cli("task", "show", "t_a", "--json").stdout)

    for text in (
        "ci/lint",
        "ticket=ENG-42",
        "exec",
        "friendly",
        "openai",
        'model_verbosity="low"',
        "Answer in French.",
        "result",
        '"verdict": "pass"',
    ):
        assert text in shown, text
    for name in ("purpose", "runtime", "provider", "result", "developer instructions"):
        assert name not in plain, name
    assert (as_json.has_result, as_json.result) == (True, {"verdict": "pass", "issues": []})
