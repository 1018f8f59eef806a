"""Prometheus metrics of a receiver (``GET /metrics``), with the prometheus client library.

Each :class:`IngestApp` registers its metrics in its own registry, so several receivers can live
in one process (tests, the demo). Under ``--workers N`` the command sets
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums every worker's values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["OUTCOMES", "IngestMetrics"]

#: The ``outcome`` label of ``relaywire_ingest_deliveries_total``.
OUTCOMES = ("accepted", "duplicate", "rejected", "malformed", "too_large", "unavailable")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class IngestMetrics:
    """``relaywire_ingest_deliveries_total{source,outcome}``, the request latency of stored
    deliveries per source, the group-commit batch sizes and whether the sink is up."""

    def __init__(self, sources: Sequence[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.deliveries = Counter(
            "relaywire_ingest_deliveries",
            "Webhook deliveries by source and outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "relaywire_ingest_request_seconds",
            "Time from request to answer for stored (and duplicate) deliveries",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "relaywire_ingest_batch_size",
            "Deliveries written per group commit",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.sink_up = Gauge(
            "relaywire_ingest_sink_up",
            "1 when the sink accepts writes",
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        # Bound children: labels() costs a dict lookup and a lock per call otherwise.
        self.counters = {
            (source, outcome): self.deliveries.labels(source, outcome)
            for source in sources
            for outcome in OUTCOMES
        }
        self.latencies = {source: self.latency.labels(source) for source in sources}

    def render(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
