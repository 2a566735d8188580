"""Idempotent submits: the fingerprint of a request, kept with its idempotency key.

A key sent again with the same request answers with what the first one made; with a
different request it is refused (:class:`~codex_runner.service.errors.IdempotencyKeyReused`).
The fingerprint is a digest of the request after validation and normalisation (resolved
paths, the effective max runtime), so spelling a request differently does not make it another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from codex_runner.domain.task import DEFAULT_MAX_RUNTIME_S, RuntimeSettings, Task, WorkspaceRequest
from codex_runner.domain.task_options import TaskOptions
from codex_runner.service.errors import IdempotencyKeyReused
from codex_runner.service.graphs import GraphRequest


def task_fingerprint(
    prompt: str,
    workspace: WorkspaceRequest,
    *,
    priority: int,
    settings: RuntimeSettings,
    max_runtime_s: float | None,
    images: Sequence[str],
    options: Mapping[str, Any] | None = None,
) -> str:
    """The digest of one task's submit (its workspace already resolved)."""
    extra = {"options": dict(options)} if options and any(options.values()) else {}
    return _digest(
        {
            **extra,
            "kind": "task",
            "prompt": prompt,
            "workspace": asdict(workspace),
            "priority": priority,
            "settings": asdict(settings),
            "max_runtime_s": max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            "images": list(images),
        }
    )


def graph_fingerprint(request: GraphRequest) -> str:
    """The digest of a graph's submit (its workspace already resolved)."""
    return _digest(
        {
            "kind": "graph",
            "prompt": request.prompt,
            "workspace": asdict(request.workspace),
            "priority": request.priority,
            "settings": asdict(request.settings),
            "max_runtime_s": request.max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            # Only when given: digests of graphs made before the option existed still match.
            **({"max_concurrent": request.max_concurrent} if request.max_concurrent else {}),
            **({"options": request.options.to_json()} if request.options != TaskOptions() else {}),
            "children": [
                {
                    "key": c.key,
                    "prompt": c.prompt,
                    "depends_on": list(c.depends_on),
                    "priority": c.priority,
                    "settings": asdict(c.settings) if c.settings is not None else None,
                    **({"output_schema": c.output_schema} if c.output_schema else {}),
                }
                for c in request.children
            ],
        }
    )


def check_same_request(key: str, existing: Task, fingerprint: str) -> None:
    """Raise IdempotencyKeyReused unless ``existing`` was made by this very request.

    A task stored before fingerprints were kept has none: any request with its key finds it,
    as every request did then.
    """
    if existing.idempotency_fingerprint not in (None, fingerprint):
        raise IdempotencyKeyReused(key, existing.id)


def _digest(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate escaped in JSON is still a string someone sent.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
