"""Shards on Ray: a collection split by id hash over shard actors, searched and written through
a router whose answers equal one index's (collection-wide BM25 statistics, global merge)."""

from __future__ import annotations

from lucene_hybrid.cluster.collection import (
    NAMESPACE,
    NO_SIGNAL_HANDLER,
    ClusterSpec,
    ShardedCollection,
    ShardUnavailable,
)
from lucene_hybrid.cluster.serving import RaySharding, connect_ray
from lucene_hybrid.cluster.shard import Shard
from lucene_hybrid.cluster.stats import StatsCache
from lucene_hybrid.core.sharding import CLUSTER_FILE

__all__ = [
    "CLUSTER_FILE",
    "NAMESPACE",
    "NO_SIGNAL_HANDLER",
    "ClusterSpec",
    "RaySharding",
    "Shard",
    "ShardUnavailable",
    "ShardedCollection",
    "StatsCache",
    "connect_ray",
]
