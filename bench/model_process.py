"""The scripted model in a process of its own (``codex-runner mock-model``), for benchmarks
that time a client and the model answering it: served from the benchmark's own event loop,
the model's answers would wait behind the client's work (parsing the daemon's event stream,
say), and the slower client's path would look slower still."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from codex_runner.mockmodel import codex_config_for

START_TIMEOUT_S = 20.0
_ADDRESS = re.compile(r" at (http://\S+)$")


class ModelProcess:
    """``async with ModelProcess(script) as model``: ``model.codex_config()`` points Codex
    at it; the process is stopped (and reaped) on the way out."""

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.base_url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="codex-runner-model-")

    def codex_config(self) -> dict[str, Any]:
        return codex_config_for(self.base_url)

    async def __aenter__(self) -> ModelProcess:
        script = Path(self._folder.name) / "script.json"
        script.write_text(json.dumps(self.script))
        command = [sys.executable, "-m", "codex_runner", "mock-model", "--script", str(script)]
        self._proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self._proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT_S):
            while not self.base_url:
                line = (await self._proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("the mock model exited before it served")
                if found := _ADDRESS.search(line.strip()):
                    self.base_url = found.group(1)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._folder.cleanup()
