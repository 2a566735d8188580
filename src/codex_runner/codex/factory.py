"""Pick a runtime implementation by name."""

from __future__ import annotations

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.rpc_log import RpcLog
from codex_runner.codex.runtime import ApprovalHandler, CodexRuntime
from codex_runner.config import RunnerConfig


def create_runtime(
    config: RunnerConfig,
    approvals: ApprovalHandler | None = None,
    *,
    rpc_log: RpcLog | None = None,
    kind: str | None = None,
) -> CodexRuntime:
    """The runtime named by ``kind``, else by ``config.codex.runtime`` (``app-server`` or
    ``exec``).

    ``rpc_log`` records the app-server's raw JSON-RPC (exec speaks none).
    """
    if kind is not None and kind != config.codex.runtime:
        codex = config.codex.model_copy(update={"runtime": kind})
        config = config.model_copy(update={"codex": codex})
    if config.codex.runtime == "exec":
        from codex_runner.codex.exec_runtime import ExecRuntime

        return ExecRuntime(config)
    return AppServerRuntime(config, approvals=approvals, rpc_log=rpc_log)
