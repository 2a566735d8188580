"""Finding the codex binary: configured path, else the pinned PyPI wheel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from codex_runner.codex.errors import CodexBinaryNotFound


def find_codex_binary(configured: str | None) -> Path:
    """The configured path (``codex.bin`` / ``CODEX_RUNNER_CODEX_BIN``) or the bundled one."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise CodexBinaryNotFound(
                f"codex binary not found at {path} (from codex.bin or CODEX_RUNNER_CODEX_BIN); "
                "point it at an existing codex executable or unset it to use the bundled one."
            )
        if not os.access(path, os.X_OK):
            raise CodexBinaryNotFound(
                f"codex binary at {path} is not executable; run 'chmod +x {path}'."
            )
        return path
    try:
        import codex_cli_bin

        return Path(codex_cli_bin.bundled_codex_path())
    except (ImportError, FileNotFoundError) as exc:
        raise CodexBinaryNotFound(
            "no codex binary: the bundled 'openai-codex-cli-bin' package is missing or broken "
            f"({exc}); reinstall codex-runner or set CODEX_RUNNER_CODEX_BIN."
        ) from None


def bundled_path_dir() -> Path | None:
    """Helper binaries (rg) that ship beside the bundled codex; put on the child's PATH."""
    try:
        import codex_cli_bin

        found = codex_cli_bin.bundled_path_dir()
        return Path(found) if found else None
    except (ImportError, FileNotFoundError, AttributeError):
        return None


def codex_version(binary: Path, timeout: float = 10.0) -> str:
    """``codex --version`` without the program name, e.g. ``0.163.0``."""
    out = subprocess.run(
        [str(binary), "--version"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=True,
    ).stdout.strip()
    return out.split()[-1] if out else "unknown"


def release_codex_binary(target: Path) -> Path:
    """The codex binary of a release installed with ``pip install --target target``: the
    same package layout as the pinned wheel (``codex_cli_bin/bin/codex``)."""
    package = target / "codex_cli_bin"
    exe = package / "bin" / ("codex.exe" if os.name == "nt" else "codex")
    if not (package / "codex-package.json").is_file() or not exe.is_file():
        raise CodexBinaryNotFound(
            f"no codex binary in the release at {target}; install it again with "
            "'codex-runner codex install VERSION'"
        )
    return exe
