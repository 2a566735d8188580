"""What FastAPI's import would cost a restart, measured beside what the daemon imports now.

The API sits on Starlette with its own small routing layer instead of FastAPI because the
import was a third of a restart. This keeps that choice honest: each round times, in fresh
interpreters, the import of what the routing layer builds on (Starlette and pydantic) and
the import of ``fastapi`` (which brings both), interleaved so a slow spell of the machine
hits both alike. Only the import is timed, inside the child, not the interpreter's start.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass

BASELINE = "starlette.applications, starlette.routing, pydantic"
FASTAPI = "fastapi"
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ImportCost:
    baseline_s: float  # median import of Starlette and pydantic
    fastapi_s: float  # median import of fastapi (Starlette and pydantic included)

    @property
    def delta_s(self) -> float:
        """What FastAPI adds over what the daemon already imports."""
        return self.fastapi_s - self.baseline_s

    @property
    def ratio(self) -> float:
        return self.fastapi_s / self.baseline_s


def import_seconds(modules: str) -> float:
    """Seconds ``import <modules>`` takes in a fresh interpreter (this one's executable)."""
    code = (
        "import time; started = time.perf_counter(); "
        f"import {modules}; print(time.perf_counter() - started)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    return float(done.stdout.strip())


def fastapi_installed() -> bool:
    done = subprocess.run(
        [sys.executable, "-c", f"import {FASTAPI}"],
        capture_output=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode == 0


def measure_fastapi(rounds: int) -> ImportCost | None:
    """Medians over ``rounds`` interleaved pairs; None when FastAPI is not installed."""
    if not fastapi_installed():
        return None
    baseline: list[float] = []
    fastapi: list[float] = []
    import_seconds(FASTAPI)  # the first import writes the bytecode caches: not a restart's cost
    for _ in range(rounds):
        baseline.append(import_seconds(BASELINE))
        fastapi.append(import_seconds(FASTAPI))
    return ImportCost(statistics.median(baseline), statistics.median(fastapi))
