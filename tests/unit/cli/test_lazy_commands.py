"""The CLI loads only the command being run, and each command still parses on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from codex_runner.cli import main

COMMANDS = sorted(main._COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_loaded_alone_is_still_a_subcommand(name: str) -> None:
    result = CliRunner().invoke(main.build_app(name), [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and name in result.output


def test_serving_does_not_import_the_terminal_renderer_or_the_slack_client() -> None:
    probe = (
        "import sys; from codex_runner.cli import main; main.build_app('serve'); "
        "print(sorted(m for m in ('codex_runner.cli.render', 'rich.markdown', 'slack_bolt', "
        "'codex_runner.mockmodel') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_version_prints_ours_and_the_bundled_codex_and_exits_0() -> None:
    from codex_runner import __version__

    result = CliRunner().invoke(main.build_app(), ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"codex-runner {__version__}")
    assert result.stdout.count("\n") == 1


def test_version_loads_no_command() -> None:
    probe = (
        "import sys; sys.argv = ['codex-runner', '--version']; from codex_runner.cli import main; "
        "main.main(); print(sorted(m for m in sys.modules if m.startswith('codex_runner.cli.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    version_line, loaded = out.stdout.splitlines()
    assert version_line.startswith("codex-runner ")
    assert loaded == "['codex_runner.cli.main']"
