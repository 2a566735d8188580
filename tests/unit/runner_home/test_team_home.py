"""The team home: shared AGENTS.md, config additions, skills, rules, memories for every profile."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from codex_runner.auth.profile_store import ProfileStore
from codex_runner.codex.home import codex_config, prepare_codex_home
from codex_runner.config import load_config
from codex_runner.runner_home.team_home import (
    MAX_MEMORY_BYTES,
    ensure_team_home,
    link_problems,
    link_team_home,
    team_home,
    team_memory,
)

SHARED = ("AGENTS.md", "skills", "rules", "memories")


def _team(home: Path) -> Path:
    team = team_home(home)
    (team / "skills" / "review").mkdir(parents=True)
    (team / "skills" / "review" / "SKILL.md").write_text("team skill\n")
    (team / "AGENTS.md").write_text("Team rules: be brief.\n")
    return team


def test_team_links_resolve_from_every_profile(tmp_path: Path) -> None:
    team = _team(tmp_path)
    store = ProfileStore(tmp_path)
    store.create("alice")
    store.create("bob")
    for name in store.names():
        store.set_active(name)
        codex_home = prepare_codex_home(load_config(tmp_path))
        assert codex_home == store.codex_home(name)
        for entry in SHARED:
            link = codex_home / entry
            assert link.is_symlink(), f"{name}: {entry}"
            assert not os.path.isabs(os.readlink(link))  # the runner home can move
            assert link.resolve() == (team / entry).resolve()
        assert (codex_home / "AGENTS.md").read_text() == "Team rules: be brief.\n"
        assert (codex_home / "skills" / "review" / "SKILL.md").exists()
        assert link_problems(tmp_path, codex_home) == []


def test_agents_md_is_linked_once_the_team_writes_one(tmp_path: Path) -> None:
    codex_home = prepare_codex_home(load_config(tmp_path))
    assert not (codex_home / "AGENTS.md").exists()
    assert (codex_home / "skills").is_symlink()
    (team_home(tmp_path) / "AGENTS.md").write_text("later\n")
    prepare_codex_home(load_config(tmp_path))
    assert (codex_home / "AGENTS.md").read_text() == "later\n"


def test_codex_generated_skills_give_way_to_the_link(tmp_path: Path) -> None:
    codex_home = tmp_path / "codex-home"
    (codex_home / "skills" / ".system" / "imagegen").mkdir(parents=True)
    assert link_team_home(tmp_path, codex_home) == []
    assert (codex_home / "skills").is_symlink()


def test_a_profiles_own_content_is_kept_and_reported(tmp_path: Path) -> None:
    _team(tmp_path)
    codex_home = tmp_path / "codex-home"
    (codex_home / "rules").mkdir(parents=True)
    (codex_home / "rules" / "mine.rules").write_text("keep me\n")
    problems = link_team_home(tmp_path, codex_home)
    assert [p.path.name for p in problems] == ["rules"]
    assert "move it into" in str(problems[0])
    assert (codex_home / "rules" / "mine.rules").read_text() == "keep me\n"
    assert [p.path.name for p in link_problems(tmp_path, codex_home)] == ["rules"]


def test_team_config_additions_merge_under_the_runner_config(tmp_path: Path) -> None:
    team = team_home(tmp_path)
    team.mkdir()
    (team / "config.toml").write_text('model = "team-model"\nmodel_reasoning_effort = "high"\n')
    (tmp_path / "config.toml").write_text('[codex.config]\nmodel = "runner-model"\n')
    config = load_config(tmp_path)
    merged = codex_config(config)
    assert merged["model"] == "runner-model"  # the runner's own [codex.config] wins
    assert merged["model_reasoning_effort"] == "high"
    written = tomllib.loads((prepare_codex_home(config) / "config.toml").read_text())
    assert written["model_reasoning_effort"] == "high"


def test_a_codex_home_outside_the_runner_home_is_never_rearranged(tmp_path: Path) -> None:
    _team(tmp_path / "home")
    outside = tmp_path / "users-codex"
    (outside / "skills").mkdir(parents=True)
    (tmp_path / "home" / "config.toml").write_text(f'[codex]\nhome = "{outside}"\n')
    prepare_codex_home(load_config(tmp_path / "home"))
    assert not (outside / "skills").is_symlink()
    assert not (outside / "AGENTS.md").exists()


def test_removing_a_profile_keeps_the_team_home(tmp_path: Path) -> None:
    team = _team(tmp_path)
    store = ProfileStore(tmp_path)
    store.create("temp")
    store.set_active("temp")
    prepare_codex_home(load_config(tmp_path))
    store.set_active("default")
    store.remove("temp")
    assert (team / "skills" / "review" / "SKILL.md").exists()
    assert (team / "AGENTS.md").exists()


def test_memory_an_agent_writes_under_one_profile_is_there_under_every_other(
    tmp_path: Path,
) -> None:
    store = ProfileStore(tmp_path)
    homes = {}
    for name in ("alice", "bob"):
        store.create(name)
        store.set_active(name)
        homes[name] = prepare_codex_home(load_config(tmp_path))
    for name in ("AGENT.md", "memory.md", "superpowers", "vendor_imports"):
        for home in homes.values():
            assert (home / name).resolve() == (team_home(tmp_path) / name).resolve(), name
    # Codex writes its memory where its home says: the team's file, whichever profile.
    with (homes["alice"] / "memory.md").open("a") as memory:
        memory.write("- the build needs make -j2\n")
    assert (homes["bob"] / "memory.md").read_text() == "- the build needs make -j2\n"
    assert team_memory(tmp_path) == ""  # AGENT.md is made empty
    (homes["bob"] / "AGENT.md").write_text("# Team\n\nAsk before deploying.\n")
    assert team_memory(tmp_path) == "# Team\n\nAsk before deploying."


def test_the_team_home_can_live_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[auth]\nteam_home = "../shared-team"\n')
    config = load_config(tmp_path)
    codex_home = prepare_codex_home(config)
    shared = (tmp_path / ".." / "shared-team").resolve()
    assert (codex_home / "memory.md").resolve() == shared / "memory.md"
    assert team_home(tmp_path, config.auth.team_home).resolve() == shared
    assert link_problems(tmp_path, codex_home, config.auth.team_home) == []


def test_a_long_agent_md_is_cut_and_says_so(tmp_path: Path) -> None:
    team = ensure_team_home(tmp_path)
    (team / "AGENT.md").write_text("x" * (MAX_MEMORY_BYTES + 10))
    memory = team_memory(tmp_path)
    assert memory.startswith("x" * 100) and memory.endswith("read the rest from the file itself]")
    assert len(memory) < MAX_MEMORY_BYTES + 100
