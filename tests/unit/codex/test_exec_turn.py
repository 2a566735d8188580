"""The exec runtime's command line and thread state (pure, no process)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from codex_runner.codex.exec_turn import ExecThread, exec_argv, toml_value
from codex_runner.codex.runtime import ThreadOptions
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
