"""The wire shapes are the contract the CLI shares with the API: it reads them without
loading the server side (the shapes live in http/wire.py and its wire_* siblings)."""

from __future__ import annotations

import subprocess
import sys


def test_the_wire_shapes_and_the_daemon_client_load_no_server_framework() -> None:
    probe = (
        "import sys; import codex_runner.http.wire, codex_runner.cli.client; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('starlette')} "
        "| {m for m in sys.modules if m.startswith('codex_runner.http.') "
        "and not m.startswith('codex_runner.http.wire')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
