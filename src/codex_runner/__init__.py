"""codex-runner: run OpenAI Codex agents as a managed, durable, observable service.

The library API is the names in ``__all__``, importable from ``codex_runner`` itself; every
other module is internal and may change between versions. The names load on first use
(PEP 562): importing the package stays as cheap as the CLI's and the daemon's start need.
"""

import importlib as _importlib
import time as _time
from typing import Any as _Any

__version__ = "0.1.0"
# The daemon reports its start-up from here (see codex_runner.daemon.startup).
IMPORTED_AT = _time.perf_counter()

# Public name -> the module that defines it (kept as text: no import until asked for).
_PUBLIC: dict[str, str] = {
    "load_config": "codex_runner.config",
    "RunnerConfig": "codex_runner.config",
    "ConfigError": "codex_runner.config",
    "AppServerRuntime": "codex_runner.codex.app_server",
    "ExecRuntime": "codex_runner.codex.exec_runtime",
    "create_runtime": "codex_runner.codex.factory",
    "CodexRuntime": "codex_runner.codex.runtime",
    "ThreadOptions": "codex_runner.codex.runtime",
    "TurnOptions": "codex_runner.codex.runtime",
    "TextInput": "codex_runner.codex.runtime",
    "ImageInput": "codex_runner.codex.runtime",
    "Turn": "codex_runner.codex.runtime",
    "TurnResult": "codex_runner.codex.runtime",
    "CodexError": "codex_runner.codex.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> _Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'codex_runner' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
