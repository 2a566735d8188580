"""The scripted model server over real HTTP on 127.0.0.1, driven by aiohttp's client."""

from __future__ import annotations

import asyncio
import gzip
import json
import shlex
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from codex_runner.mockmodel import MockModelServer, RecordedRequest, Script, ServerState
from codex_runner.mockmodel.answers import write_file_command
from codex_runner.mockmodel.stream import split_text

Serve = Callable[[dict[str, Any]], Awaitable[MockModelServer]]
ENVIRONMENT = "<environment_context>\n  <cwd>/tmp/repo</cwd>\n</environment_context>"


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers for scripts given as dicts; all are stopped after the test."""
    servers: list[MockModelServer] = []

    async def start(script: dict[str, Any]) -> MockModelServer:
        server = MockModelServer(Script.from_dict(script), port=0)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        yield session


def turn(prompt: str, *after: dict[str, Any], tools: list[Any] | None = None) -> dict[str, Any]:
    """A request body shaped like Codex's: developer text, context, prompt, then ``after``."""
    items = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "x"}]},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": ENVIRONMENT}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]},
        *after,
    ]
    return {"model": "mock-model", "stream": True, "input": items, "tools": tools or []}


def tool_round(output: str) -> list[dict[str, Any]]:
    return [
        {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": output},
        {"type": "function_call_output", "call_id": output, "output": output},
    ]


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Parse an SSE body, checking each block's ``event:`` matches its data's type."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        data = json.loads(lines["data"])
        assert lines["event"] == data["type"]
        events.append(data)
    return events


async def stream(
    http: aiohttp.ClientSession, server: MockModelServer, body: dict[str, Any]
) -> list[dict[str, Any]]:
    async with http.post(f"{server.base_url}/responses", json=body) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return parse_sse(await response.text())


async def read_until_created(response: aiohttp.ClientResponse) -> None:
    """Read an open stream up to its first event (the stream has started)."""
    async for line in response.content:
        if line.startswith(b"event: response.created"):
            return
    raise AssertionError("stream ended before response.created")


def items_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "response.output_item.done"]


def only_message(events: list[dict[str, Any]]) -> str:
    (item,) = items_of(events)
    assert item["type"] == "message"
    text: str = item["content"][0]["text"]
    return text


def one_rule(*responses: list[dict[str, Any]], **rule: Any) -> dict[str, Any]:
    return {"rules": [{"name": "r", **rule, "responses": list(responses)}]}


async def test_a_message_streams_created_item_events_and_completed_with_usage(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "Hi there"}], match="hello"))

    events = await stream(http, server, turn("hello"))

    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[3]["delta"] == "Hi there"
    assert only_message(events) == "Hi there"
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["id"] == events[0]["response"]["id"]
    assert completed["output"] == items_of(events)
    usage = completed["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


async def test_ids_are_unique_across_responses_items_and_calls(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"shell": "a"}, {"shell": "b"}, {"message": "m"}]))

    first = await stream(http, server, turn("x"))
    second = await stream(http, server, turn("x"))

    items = items_of(first) + items_of(second)
    ids = [first[0]["response"]["id"], second[0]["response"]["id"]]
    ids += [item["id"] for item in items] + [item["call_id"] for item in items if "call_id" in item]
    assert len(ids) == len(set(ids)) == 2 + 6 + 4


async def test_reasoning_is_an_item_with_a_summary(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"reasoning": "thinking"}, {"message": "ok"}]))

    events = await stream(http, server, turn("x"))

    reasoning, _ = items_of(events)
    assert reasoning["type"] == "reasoning"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "thinking"}]
    assert "response.reasoning_summary_text.delta" in [e["type"] for e in events]


async def test_shell_is_an_exec_command_call_without_login_shell(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(
        one_rule(
            [
                {"shell": "ls"},
                {"shell": "make", "workdir": "sub", "timeout_ms": 500, "justification": "ok?"},
            ]
        )
    )

    plain, detailed = items_of(await stream(http, server, turn("x")))

    assert plain["type"] == "function_call"
    assert plain["name"] == "exec_command"
    assert json.loads(plain["arguments"]) == {"cmd": "ls", "login": False}
    assert json.loads(detailed["arguments"]) == {
        "cmd": "make",
        "login": False,
        "workdir": "sub",
        "yield_time_ms": 500,
        "sandbox_permissions": "require_escalated",
        "justification": "ok?",
    }


def test_write_file_command_quotes_text_without_final_newline_for_printf() -> None:
    content = 'it\'s "quoted" $HOME `x`\n-n line2\\'

    words = shlex.split(write_file_command("sub dir/f.txt", content))

    assert words == ["mkdir", "-p", "sub dir", "&&", "printf", "%s", content, ">", "sub dir/f.txt"]
    assert shlex.split(write_file_command("f.txt", "x")) == ["printf", "%s", "x", ">", "f.txt"]


def test_write_file_command_uses_a_quoted_heredoc_for_text_lines() -> None:
    content = 'it\'s "quoted" $HOME `x`\n'

    assert write_file_command("a b.txt", content) == (
        f"cat > 'a b.txt' <<'MOCK_MODEL_EOF'\n{content}MOCK_MODEL_EOF"
    )
    # Content that contains the delimiter line cannot use the heredoc.
    assert write_file_command("f", "MOCK_MODEL_EOF\n").startswith("printf '%s' ")


async def test_write_file_goes_through_exec_command(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"write_file": {"path": "a.txt", "content": "hi"}}]))

    (item,) = items_of(await stream(http, server, turn("x")))

    assert json.loads(item["arguments"]) == {
        "cmd": write_file_command("a.txt", "hi"),
        "login": False,
    }


async def test_apply_patch_uses_the_advertised_tool_form(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    patch = "*** Begin Patch\n*** Add File: p.txt\n+x\n*** End Patch\n"
    server = await serve(one_rule([{"apply_patch": patch}]))
    custom = [{"type": "custom", "name": "apply_patch"}]
    function = [{"type": "function", "name": "apply_patch"}]

    (as_custom,) = items_of(await stream(http, server, turn("x", tools=custom)))
    (as_function,) = items_of(await stream(http, server, turn("x", tools=function)))
    (as_shell,) = items_of(await stream(http, server, turn("x")))

    assert as_custom["type"] == "custom_tool_call"
    assert (as_custom["name"], as_custom["input"]) == ("apply_patch", patch)
    assert as_function["type"] == "function_call"
    assert json.loads(as_function["arguments"]) == {"input": patch}
    # Nothing advertised (unknown model names): Codex intercepts apply_patch run in a shell.
    command = json.loads(as_shell["arguments"])["cmd"]
    assert command.startswith("apply_patch <<'MOCK_MODEL_PATCH'\n*** Begin Patch\n")
    assert command.endswith("*** End Patch\nMOCK_MODEL_PATCH")


async def test_a_bare_patch_body_is_wrapped_in_begin_and_end_markers(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"apply_patch": "*** Add File: p.txt\n+x\n"}]))
    custom = [{"type": "custom", "name": "apply_patch"}]

    (item,) = items_of(await stream(http, server, turn("x", tools=custom)))

    assert item["input"] == "*** Begin Patch\n*** Add File: p.txt\n+x\n*** End Patch\n"


async def test_each_tool_round_after_the_prompt_plays_the_next_response(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(
        one_rule(
            [{"shell": "step 0"}],
            [{"shell": "step 1"}],
            [{"message": "all done"}],
            match="create a file",
        )
    )

    first = items_of(await stream(http, server, turn("create a file")))
    second = items_of(await stream(http, server, turn("create a file", *tool_round("o0"))))
    third = await stream(http, server, turn("create a file", *tool_round("o0"), *tool_round("o1")))

    assert json.loads(first[0]["arguments"])["cmd"] == "step 0"
    assert json.loads(second[0]["arguments"])["cmd"] == "step 1"
    assert only_message(third) == "all done"
    assert [(r.rule, r.response_index) for r in server.requests] == [("r", 0), ("r", 1), ("r", 2)]
    assert server.requests[2].tool_outputs == ["o0", "o1"]


async def test_past_the_last_response_the_turn_ends_with_the_last_message(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(
        {
            "rules": [
                {"match": "a", "responses": [[{"shell": "x"}], [{"message": "bye"}]]},
                {"match": "b", "responses": [[{"shell": "x"}]]},
            ]
        }
    )

    from_message = await stream(http, server, turn("a", *tool_round("1"), *tool_round("2")))
    without_message = await stream(http, server, turn("b", *tool_round("1")))

    assert only_message(from_message) == "bye"
    assert only_message(without_message) == "done"
    assert server.requests[0].response_index == 2


async def test_an_unmatched_prompt_gets_the_default_mock_answer(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "x"}], match="never"))

    events = await stream(http, server, turn("what is this?"))

    assert only_message(events) == "mock: what is this?"
    assert server.requests[0].rule is None
    assert server.requests[0].response_index is None


async def test_echo_repeats_the_prompt_and_earlier_user_messages(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"echo": True}]))
    earlier = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "1"}]}
    body = turn("2")
    body["input"].insert(2, earlier)

    events = await stream(http, server, body)

    assert only_message(events) == 'echo: 2\nearlier: ["1"]'


async def test_recorded_requests_expose_prompt_outputs_rule_and_body(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"shell": "x"}], [{"message": "y"}], name="make-file"))
    body = turn("create", *tool_round("out"))

    await stream(http, server, body)

    (recorded,) = await server.wait_for_requests(1, timeout=5)
    assert isinstance(recorded, RecordedRequest)
    assert recorded.path == "/v1/responses"
    assert recorded.body == body
    assert recorded.last_user_text == "create"
    assert recorded.user_texts == ["create"]
    assert recorded.tool_outputs == ["out"]
    assert recorded.rule == "make-file"
    assert recorded.headers["Content-Type"] == "application/json"


async def test_an_unnamed_rule_is_recorded_by_index(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(
        {
            "rules": [
                {"match": "a", "responses": [[{"message": "1"}]]},
                {"responses": [[{"message": "2"}]]},
            ]
        }
    )

    await stream(http, server, turn("b"))

    assert server.requests[0].rule == "rules[1]"


async def test_http_error_answers_with_the_status_and_an_openai_style_body(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(
        {
            "rules": [
                {"match": "boom", "responses": [[{"http_error": 500}]]},
                {
                    "match": "slow",
                    "responses": [[{"delay": 0.01}, {"http_error": 429, "body": "{}"}]],
                },
            ]
        }
    )

    async with http.post(f"{server.base_url}/responses", json=turn("boom")) as response:
        assert response.status == 500
        error = await response.json()
    async with http.post(f"{server.base_url}/responses", json=turn("slow")) as response:
        assert response.status == 429
        assert await response.text() == "{}"

    assert error["error"]["message"] == "scripted HTTP 500"
    assert len(server.requests) == 2


async def test_cut_drops_the_connection_before_completion(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "partial"}, {"cut": True}]))
    received = b""

    async with http.post(f"{server.base_url}/responses", json=turn("x")) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in response.content.iter_any():
                received += chunk

    types = [e["type"] for e in parse_sse(received.decode())]
    assert types[0] == "response.created"
    assert "response.output_item.done" in types
    assert "response.completed" not in types


async def test_hang_keeps_the_stream_open_until_stop_closes_it(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"hang": True}]))

    async with http.post(f"{server.base_url}/responses", json=turn("x")) as response:
        await read_until_created(response)
        assert server.open_streams == 1

        async with asyncio.timeout(5):
            await server.stop()
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()

    assert server.state is ServerState.STOPPED
    assert server.open_streams == 0


async def test_a_client_leaving_a_hang_frees_its_stream(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"hang": True}]))

    async with http.post(f"{server.base_url}/responses", json=turn("x")) as response:
        await read_until_created(response)
        response.close()

    await server.wait_until_idle(timeout=5)
    assert server.open_streams == 0


async def test_stop_cuts_a_long_delay_short(serve: Serve, http: aiohttp.ClientSession) -> None:
    server = await serve(one_rule([{"delay": 3600}, {"message": "never"}]))

    async with http.post(f"{server.base_url}/responses", json=turn("x")) as response:
        await read_until_created(response)
        async with asyncio.timeout(5):
            await server.stop()
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


async def test_500_concurrent_streams_all_complete(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    # Each stream waits a second before answering: served one by one, this would need
    # 500 seconds, so finishing inside the timeout shows they were served concurrently.
    server = await serve(one_rule([{"delay": 1.0}, {"message": "ok"}]))

    async def one(index: int) -> str:
        return only_message(await stream(http, server, turn(f"session {index}")))

    async with asyncio.timeout(30):
        answers = await asyncio.gather(*(one(i) for i in range(500)))

    assert answers == ["ok"] * 500
    assert sorted(r.last_user_text or "" for r in server.requests) == sorted(
        f"session {i}" for i in range(500)
    )


async def test_wait_for_requests_times_out_saying_what_arrived(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "x"}]))
    await stream(http, server, turn("only one"))

    with pytest.raises(
        TimeoutError, match=r"for 2 model call\(s\), got 1: \[\('r', 'only one'\)\]"
    ):
        await server.wait_for_requests(2, timeout=0.05)


async def test_wait_for_requests_wakes_when_a_request_arrives(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "x"}]))

    waiter = asyncio.create_task(server.wait_for_requests(1, timeout=5))
    await stream(http, server, turn("hello"))

    assert [r.last_user_text for r in await waiter] == ["hello"]


async def test_codex_config_and_snippet_point_at_the_server(serve: Serve) -> None:
    server = await serve({"rules": []})

    config = server.codex_config()

    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert config == {
        "model": "mock-model",
        "model_provider": "mock",
        "model_providers": {
            "mock": {
                "name": "mock",
                "base_url": server.base_url,
                "wire_api": "responses",
                "env_key": "MOCK_API_KEY",
                "request_max_retries": 0,
                "stream_max_retries": 0,
            }
        },
    }
    snippet = server.config_snippet()
    assert snippet.startswith("[codex.config]\n")
    assert tomllib.loads(snippet) == {"codex": {"config": config}}


async def test_models_endpoint_lists_the_mock_model_and_other_paths_are_404(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve({"rules": []})

    async with http.get(f"{server.base_url}/models") as response:
        models = await response.json()
    async with http.get(f"{server.base_url}/nope") as response:
        assert response.status == 404

    assert [m["id"] for m in models["data"]] == ["mock-model"]
    assert [(r.method, r.path, r.status) for r in server.other_requests] == [
        ("GET", "/v1/models", 200),
        ("GET", "/v1/nope", 404),
    ]
    assert server.requests == []


async def test_gzip_bodies_are_read_and_bad_json_is_a_400(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    server = await serve(one_rule([{"message": "x"}]))
    url = f"{server.base_url}/responses"
    payload = gzip.compress(json.dumps(turn("zipped")).encode())

    gzip_headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with http.post(url, data=payload, headers=gzip_headers) as response:
        assert response.status == 200
        await response.read()
    async with http.post(url, data=b"not json") as response:
        assert response.status == 400
        error = await response.json()

    assert server.requests[0].last_user_text == "zipped"
    assert "cannot read the request body" in error["error"]["message"]


async def test_lifecycle_misuse_is_a_clear_error() -> None:
    server = MockModelServer(Script.from_dict({"rules": []}))
    with pytest.raises(RuntimeError, match="no port until start"):
        _ = server.port

    async with server:
        with pytest.raises(RuntimeError, match="cannot start: it is running"):
            await server.start()
    await server.stop()  # idempotent

    assert server.state is ServerState.STOPPED
    with pytest.raises(RuntimeError, match="cannot start: it is stopped"):
        await server.start()


async def test_on_request_sees_each_recorded_call(
    http: aiohttp.ClientSession,
) -> None:
    seen: list[RecordedRequest] = []
    script = Script.from_dict(one_rule([{"message": "x"}]))

    async with MockModelServer(script, on_request=seen.append) as server:
        await stream(http, server, turn("hello"))

    assert seen == server.requests


async def test_a_message_can_stream_in_several_deltas(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    text = "The answer grows piece by piece."
    server = await serve(
        one_rule([{"message": text, "deltas": 4, "delta_delay": 0.01}], match="grow")
    )

    events = await stream(http, server, turn("grow"))

    pieces = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(pieces) == 4 and all(pieces)
    assert "".join(pieces) == text == only_message(events)


def test_split_text_keeps_every_character_in_order() -> None:
    assert split_text("abcdefg", 3) == ["abc", "def", "g"]
    assert split_text("ab", 5) == ["a", "b"]
    assert split_text("", 3) == [""]
