"""`[codex.exec] extra_args` (checked at load, reaching every codex exec) and `[codex.models]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.codex.exec_turn import exec_argv
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.config import ConfigError, load_config

BIN = Path("/opt/codex")


def _home(tmp_path: Path, text: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text)
    return home


def test_allowed_extra_args_reach_both_exec_and_exec_resume(tmp_path: Path) -> None:
    home = _home(
        tmp_path,
        '[codex.exec]\nextra_args = ["--strict-config", "-c", "hide_agent_reasoning=true", '
        '"--skip-git-repo-check", "--enable=web_search"]\n',
    )
    settings = load_config(home).codex
    extra = ["--strict-config", "-c", "hide_agent_reasoning=true", "--enable", "web_search"]
    assert settings.exec.extra_args[:3] == tuple(extra[:3])
    options = ThreadOptions(cwd=tmp_path)
    for codex_id in (None, "01a1ff78-7c7e-7fa2-9a97-f77b589a6092"):
        argv = exec_argv(BIN, settings, options, codex_id, "go")
        end = argv.index("--")
        assert argv[end - len(extra) : end] == extra
        # The runner passes it already; codex refuses a switch given twice.
        assert argv.count("--skip-git-repo-check") == 1


def test_no_extra_args_by_default(tmp_path: Path) -> None:
    settings = load_config(tmp_path).codex
    assert settings.exec.extra_args == ()
    argv = exec_argv(BIN, settings, ThreadOptions(cwd=tmp_path), None, "go")
    assert argv[argv.index('approval_policy="never"') + 1 :] == ["--", "go"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ('["--dangerously-bypass-approvals-and-sandbox"]', "dangerously-bypass"),
        ('["-s", "danger-full-access"]', "-s is not allowed"),
        ('["-c", "sandbox_mode=\\"danger-full-access\\""]', "sandbox_mode"),
        ('["resume"]', "'resume' is not a flag"),
        ('"--oss"', "codex.exec.extra_args"),
    ],
)
def test_a_refused_flag_fails_the_load_naming_the_key_and_the_flag(
    tmp_path: Path, args: str, named: str
) -> None:
    home = _home(tmp_path, f"[codex.exec]\nextra_args = {args}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(home)
    assert "codex.exec.extra_args" in str(caught.value)
    assert named in str(caught.value)


def test_an_unknown_exec_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'codex\.exec\.args'"):
        load_config(_home(tmp_path, '[codex.exec]\nargs = ["--oss"]\n'))


def test_model_aliases_load_and_the_default_model_may_be_one(tmp_path: Path) -> None:
    home = _home(tmp_path, '[codex]\nmodel = "fast"\n[codex.models]\nfast = "gpt-5-codex-mini"\n')
    settings = load_config(home).codex
    assert settings.models == {"fast": "gpt-5-codex-mini"}
    assert settings.model == "gpt-5-codex-mini"


def test_a_model_flag_naming_an_alias_is_resolved_too(tmp_path: Path) -> None:
    home = _home(tmp_path, '[codex.models]\nfast = "gpt-5-codex-mini"\n')
    assert load_config(home, overrides={"model": "fast"}).codex.model == "gpt-5-codex-mini"


@pytest.mark.parametrize(
    ("models", "named"),
    [
        ('fast = "mini"\nquick = "fast"\n', "names another alias"),
        ('fast = ""\n', "a model name"),
        ("fast = 5\n", "codex.models.fast"),
    ],
)
def test_a_bad_alias_map_fails_the_load(tmp_path: Path, models: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(_home(tmp_path, f"[codex.models]\n{models}"))
