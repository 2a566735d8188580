"""The disk policy's figures in ``/metrics``: free space at the last check, whether it was
low, how many checks found it low (``disk.low``) and the bytes the policy removed."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from codex_runner.service.disk_policy import DiskPolicy


class DiskPolicyCollector(Collector):
    """Register on the metrics registry: ``registry.register(DiskPolicyCollector(policy))``."""

    def __init__(self, policy: DiskPolicy) -> None:
        self._policy = policy

    def collect(self) -> Iterator[Metric]:
        policy = self._policy
        yield CounterMetricFamily(
            "codex_runner_disk_low_checks",
            "Checks that found free space below disk.min_free_bytes (disk.low).",
            value=policy.low_checks,
        )
        yield CounterMetricFamily(
            "codex_runner_disk_policy_removed_bytes",
            "Bytes the disk policy removed (not counting dry-run).",
            value=policy.removed_bytes,
        )
        last = policy.last
        if last is None:
            return  # no check yet
        yield GaugeMetricFamily(
            "codex_runner_disk_free_bytes",
            "Free space on the home's file system at the disk policy's last check.",
            value=last.free_bytes,
        )
        yield GaugeMetricFamily(
            "codex_runner_disk_low",
            "1 when the disk policy's last check found free space below the minimum.",
            value=1.0 if last.low else 0.0,
        )
