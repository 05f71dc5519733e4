"""Shards on Ray: a collection split by id hash over shard actors, searched and written through
a router whose answers equal one index's (collection-wide BM25 statistics, global merge)."""

from __future__ import annotations

from lucene_hybrid.cluster.collection import (
    CLUSTER_FILE,
    NAMESPACE,
    ClusterSpec,
    ShardedCollection,
    ShardUnavailable,
)
from lucene_hybrid.cluster.shard import Shard

__all__ = [
    "CLUSTER_FILE",
    "NAMESPACE",
    "ClusterSpec",
    "Shard",
    "ShardUnavailable",
    "ShardedCollection",
]
