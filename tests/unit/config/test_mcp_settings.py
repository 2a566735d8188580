"""[mcp]: the MCP server's defaults for submit_task."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.config import ConfigError, load_config


def test_mcp_defaults_are_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[mcp]\nrepo = "/src/app"\nmodel = "gpt-5"\n')

    mcp = load_config(tmp_path).mcp

    assert (mcp.repo, mcp.cwd, mcp.model) == ("/src/app", None, "gpt-5")


def test_without_an_mcp_section_nothing_is_defaulted(tmp_path: Path) -> None:
    mcp = load_config(tmp_path).mcp

    assert (mcp.repo, mcp.cwd, mcp.model) == (None, None, None)


def test_both_a_repo_and_a_cwd_are_refused_naming_the_choice(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[mcp]\nrepo = "/a"\ncwd = "/b"\n')

    with pytest.raises(ConfigError, match="set one of repo and cwd"):
        load_config(tmp_path)
