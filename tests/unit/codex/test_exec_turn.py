"""The exec runtime's command line and thread state (pure, no process)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from codex_runner.codex.exec_turn import ExecThread, exec_argv, output_schema_file, toml_value
from codex_runner.codex.runtime import ThreadOptions, TurnOptions
from codex_runner.config import CodexSettings, load_config

BIN = Path("/opt/codex")
THREAD = "01a1ff78-7c7e-7fa2-9a97-f77b589a6092"


@pytest.fixture
def settings(tmp_path: Path) -> CodexSettings:
    return load_config(tmp_path, overrides={"runtime": "exec"}).codex


def test_a_fresh_thread_runs_codex_exec(settings: CodexSettings, tmp_path: Path) -> None:
    options = ThreadOptions(cwd=tmp_path, model="m1", effort="high")
    argv = exec_argv(BIN, settings, options, None, "-fix it")
    assert argv[:2] == [str(BIN), "exec"] and "resume" not in argv
    assert argv[argv.index("-s") + 1] == "workspace-write"
    assert argv[argv.index("-C") + 1] == str(tmp_path)
    assert argv[argv.index("-m") + 1] == "m1"
    assert {"--json", "--skip-git-repo-check"} <= set(argv)
    assert 'approval_policy="never"' in argv
    assert 'model_reasoning_effort="high"' in argv
    # The prompt comes after "--", so a leading "-" cannot be read as an option.
    assert argv[-2:] == ["--", "-fix it"]


def test_a_known_thread_runs_codex_exec_resume(settings: CodexSettings, tmp_path: Path) -> None:
    options = ThreadOptions(cwd=tmp_path, sandbox="read-only")
    argv = exec_argv(BIN, settings, options, THREAD, "next", [Path("/img/a.png")])
    assert argv[:3] == [str(BIN), "exec", "resume"]
    # resume has no -s / -C: the sandbox goes in as config, cwd is the process's cwd.
    assert "-s" not in argv and "-C" not in argv
    assert 'sandbox_mode="read-only"' in argv
    assert argv[argv.index("-i") + 1] == "/img/a.png"
    assert argv[-3:] == ["--", THREAD, "next"]


def test_config_values_are_valid_toml_strings() -> None:
    for text in ['say "hi"\nand\tgo \\ now', "emoji \U0001f600 and \x7f", ""]:
        assert tomllib.loads(f"v = {toml_value(text)}")["v"] == text


def test_developer_instructions_go_in_as_config(settings: CodexSettings, tmp_path: Path) -> None:
    options = ThreadOptions(cwd=tmp_path, developer_instructions='be "brief"')
    argv = exec_argv(BIN, settings, options, None, "p")
    value = argv[argv.index("-c", argv.index('approval_policy="never"')) + 1]
    assert tomllib.loads(value)["developer_instructions"] == 'be "brief"'


def test_context_is_prepended_only_when_a_fresh_thread_replaces_the_old_one(
    tmp_path: Path,
) -> None:
    state = ExecThread("key", ThreadOptions(cwd=tmp_path), codex_id=THREAD, context="we did X")
    assert state.prompt_for("go") == "go"  # resuming: Codex has the history itself
    state.codex_id = None
    assert state.prompt_for("go") == "Context from the earlier session:\nwe did X\n\ngo"
    state.context = None
    assert state.prompt_for("go") == "go"


def test_session_options_and_a_turns_overrides_go_in_as_flags_and_config(
    settings: CodexSettings, tmp_path: Path
) -> None:
    options = ThreadOptions(
        cwd=tmp_path,
        model="task-model",
        effort="high",
        base_instructions="base",
        personality="pragmatic",
        service_tier="fast",
        model_provider="local",
        config={"features.web_search": True, "model_verbosity": "low"},
        ephemeral=True,
    )
    turn = TurnOptions(model="turn-model", effort="low", summary="detailed", cwd=tmp_path / "sub")
    argv = exec_argv(BIN, settings, options, None, "p", turn=turn, schema_file=Path("/s.json"))
    config = {}
    for i, arg in enumerate(argv):
        if arg == "-c":
            config.update(tomllib.loads(argv[i + 1]))
    assert argv[argv.index("-m") + 1] == "turn-model"
    assert argv[argv.index("-C") + 1] == str(tmp_path / "sub")
    assert config["model_reasoning_effort"] == "low"
    assert config["model_reasoning_summary"] == "detailed"
    assert config["base_instructions"] == "base" and config["personality"] == "pragmatic"
    assert config["service_tier"] == "fast" and config["model_provider"] == "local"
    assert config["features"] == {"web_search": True} and config["model_verbosity"] == "low"
    assert "--ephemeral" in argv
    assert argv[argv.index("--output-schema") + 1] == "/s.json"
    # Without the turn's overrides the thread's own settings apply again.
    plain = exec_argv(BIN, settings, options, THREAD, "p")
    assert plain[plain.index("-m") + 1] == "task-model"
    assert 'model_reasoning_effort="high"' in plain and "--output-schema" not in plain


def test_an_output_schema_file_holds_the_schema_for_the_turn_and_is_removed_after() -> None:
    with output_schema_file({"type": "object"}) as path:
        assert path is not None and json.loads(path.read_text()) == {"type": "object"}
    assert not path.exists()
    with output_schema_file(None) as nothing:
        assert nothing is None
