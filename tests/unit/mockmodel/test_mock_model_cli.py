"""``codex-runner mock-model``: prints the config, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import typer
from typer.testing import CliRunner

from codex_runner.cli.mock_model import mock_model_command

# Run the command as its own program, the way typer registers it in codex-runner's CLI.
PROGRAM = (
    "import typer; from codex_runner.cli.mock_model import mock_model_command; "
    "typer.run(mock_model_command)"
)
SCRIPT = """
rules:
  - name: hello
    match: hello
    responses:
      - - message: Hi there
"""


def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(mock_model_command)
    return app


async def read_snippet(stdout: asyncio.StreamReader, last: str = "stream_max_retries") -> str:
    """Read the printed TOML up to its last line (by default the provider's stream_max_retries)."""
    text = ""
    while last not in text:
        line = await stdout.readline()
        if not line:
            raise AssertionError(f"mock-model exited before printing its config: {text!r}")
        text += line.decode()
    return text


@contextlib.asynccontextmanager
async def mock_model_process(
    tmp_path: Path, *options: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``mock-model --script SCRIPT OPTIONS`` as its own program; killed if still running."""
    script = tmp_path / "script.yaml"
    script.write_text(SCRIPT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        "--script",
        str(script),
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM; the exit code and what the program wrote on stderr."""
    assert process.stderr is not None
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        stderr = (await process.stderr.read()).decode()
        return await process.wait(), stderr


async def test_serves_the_script_prints_the_config_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with mock_model_process(tmp_path) as process:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            snippet = await read_snippet(process.stdout)
        config = tomllib.loads(snippet)["codex"]["config"]
        base_url = config["model_providers"]["mock"]["base_url"]
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base_url}/responses", json={"input": "hello"}) as response,
        ):
            body = await response.text()
        returncode, stderr = await stop(process)

    assert config["model"] == "mock-model"
    assert '"text":"Hi there"' in body
    assert "model call: rule=hello response=0 prompt='hello'" in stderr
    assert returncode == 0


async def test_websockets_has_codex_call_the_model_over_a_websocket(tmp_path: Path) -> None:
    async with mock_model_process(tmp_path, "--websockets") as process:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            snippet = await read_snippet(process.stdout, last="supports_websockets")
        provider = tomllib.loads(snippet)["codex"]["config"]["model_providers"]["mock"]
        url = provider["base_url"].replace("http://", "ws://") + "/responses"
        frame = {"type": "response.create", "input": "hello"}
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as socket:
            await socket.send_json(frame)
            events = [await socket.receive_json(timeout=10)]
            while events[-1]["type"] not in ("response.completed", "error"):
                events.append(await socket.receive_json(timeout=10))
        returncode, stderr = await stop(process)

    assert provider["supports_websockets"] is True
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hi there"
    assert "model call: rule=hello response=0 prompt='hello'" in stderr
    assert returncode == 0


def test_an_invalid_script_exits_2_naming_the_problem(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("rules:\n  - responses:\n      - - mesage: hi\n")

    result = CliRunner().invoke(cli_app(), ["--script", str(script)])

    assert result.exit_code == 2
    assert "did you mean 'message'" in result.output


def test_a_missing_script_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app(), ["--script", str(tmp_path / "nope.yaml")])

    assert result.exit_code == 2
    assert "script file not found" in result.output
