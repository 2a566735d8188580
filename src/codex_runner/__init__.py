"""codex-runner: run OpenAI Codex agents as a managed, durable, observable service."""

import time as _time

__version__ = "0.1.0"
# The daemon reports its start-up from here (see codex_runner.daemon.startup).
IMPORTED_AT = _time.perf_counter()
