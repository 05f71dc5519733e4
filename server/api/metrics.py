"""Prometheus metrics: request counts and latencies by route, searches by mode, index sizes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from lucene_hybrid.server.collection import CollectionClosed, CollectionRecovering

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class _CollectionsCollector:
    """Documents and bytes per collection, read at scrape time."""

    def __init__(self) -> None:
        self.registry: Any = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        docs = GaugeMetricFamily(
            "lucene_hybrid_collection_documents", "live documents", labels=["collection"]
        )
        size = GaugeMetricFamily(
            "lucene_hybrid_collection_bytes", "bytes on disk", labels=["collection"]
        )
        shard_docs = GaugeMetricFamily(
            "lucene_hybrid_shard_documents",
            "live documents in each shard of a sharded collection",
            labels=["collection", "shard"],
        )
        shard_up = GaugeMetricFamily(
            "lucene_hybrid_shard_up",
            "1 while the shard answers, 0 while it does not",
            labels=["collection", "shard"],
        )
        if self.registry is not None:
            for coll in self.registry.open_collections():
                shards = coll.shard_status()
                if shards is not None:
                    for s in shards:
                        labels = [coll.name, str(s["shard"])]
                        shard_up.add_metric(labels, 1 if s["up"] else 0)
                        if s["up"]:
                            shard_docs.add_metric(labels, s["documents"])
                    if all(s["up"] for s in shards):
                        docs.add_metric([coll.name], sum(s["documents"] for s in shards))
                    continue
                try:
                    count = coll.count()
                except (CollectionClosed, CollectionRecovering):  # deleted, or 503 for now
                    continue
                docs.add_metric([coll.name], count)
                size.add_metric([coll.name], coll.size_bytes())
        yield docs
        yield size
        yield shard_docs
        yield shard_up


class _ConnectionsCollector:
    """Open and refused connections, as the HTTP protocol counts them (``lucene-hybrid serve``
    sets ``stats``: a ``protocol.ConnectionStats``; an app run otherwise reports none)."""

    def __init__(self) -> None:
        self.stats: Any = None

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        if self.stats is None:
            return
        yield GaugeMetricFamily(
            "lucene_hybrid_connections_open", "open HTTP connections", value=self.stats.open
        )
        yield CounterMetricFamily(
            "lucene_hybrid_connections_refused",
            "connections answered 503 for being past max_connections",
            value=self.stats.refused,
        )


class Metrics:
    """One Prometheus registry per app (no process globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lucene_hybrid_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lucene_hybrid_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.searches = Histogram(
            "lucene_hybrid_search_seconds",
            "search latency inside the engine",
            ["mode"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "lucene_hybrid_requests_in_flight",
            "/v1/ requests admitted and not yet answered (read at scrape time)",
            registry=self.registry,
        )
        self.collections = _CollectionsCollector()
        self.registry.register(self.collections)  # type: ignore[arg-type]
        self.connections = _ConnectionsCollector()
        self.registry.register(self.connections)  # type: ignore[arg-type]

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self, collections: Any, in_flight: int) -> bytes:
        self.collections.registry = collections
        self.in_flight.set(in_flight)
        return generate_latest(self.registry)
