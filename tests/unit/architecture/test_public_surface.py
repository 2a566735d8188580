"""The library API: every public name loads from ``codex_runner`` itself, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import codex_runner


@pytest.mark.parametrize("name", [n for n in codex_runner.__all__ if n != "__version__"])
def test_each_public_name_is_importable_from_the_package(name: str) -> None:
    assert getattr(codex_runner, name) is not None
    assert name in dir(codex_runner)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = codex_runner.Nope  # type: ignore[attr-defined]


def test_importing_the_package_loads_none_of_the_library() -> None:
    # The CLI and the daemon import the package first: it must stay cheap.
    code = (
        "import sys, codex_runner; "
        "print(sorted(m for m in sys.modules if m.startswith('codex_runner.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
