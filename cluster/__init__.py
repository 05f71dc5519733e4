"""Shards on Ray: a collection split by id hash over shard actors, searched and written through
a router whose answers equal one index's (collection-wide BM25 statistics, global merge), and
built from a corpus by Ray Data's encoder actors and side-by-side shard builds."""

from __future__ import annotations

from lucene_hybrid.cluster.build import ShardedBuildReport, build_sharded
from lucene_hybrid.cluster.collection import (
    NAMESPACE,
    NO_SIGNAL_HANDLER,
    ClusterSpec,
    ShardedCollection,
    ShardUnavailable,
)
from lucene_hybrid.cluster.serving import RaySharding, connect_ray
from lucene_hybrid.cluster.shard import Shard, heap_for
from lucene_hybrid.cluster.stats import StatsCache
from lucene_hybrid.core.sharding import CLUSTER_FILE

__all__ = [
    "CLUSTER_FILE",
    "NAMESPACE",
    "NO_SIGNAL_HANDLER",
    "ClusterSpec",
    "RaySharding",
    "Shard",
    "ShardedBuildReport",
    "ShardUnavailable",
    "ShardedCollection",
    "StatsCache",
    "build_sharded",
    "connect_ray",
    "heap_for",
]
