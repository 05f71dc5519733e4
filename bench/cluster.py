"""Sharded collections behind `serve --ray`, beside the same index as a one-process collection
in the same server: latency and QPS per mode at several client counts, the router's own cost
per search, and the memory of each shard's process.

The index's documents (text, metadata and vectors) are upserted into an N-shard collection for
each N asked, in this process through the router (no JSON on the way), before the server
starts; the server then serves the index itself as the one-process collection ``single`` and
the N-shard ones as ``shards-N``. Requests carry the query text and, for dense and hybrid, its
vector: the encoder stays out of the figures, which are the engine's and the router's. Each
collection and mode first gets one pass of the queries with one client, its p50 reported apart
(in the first mode every query is new to the server: a router then asks its shards for the
statistics of terms it has not seen), then the measured rows at each client count.

Without a Ray address a two-node cluster is started on loopback on this machine and stopped
at the end (its shard processes share this machine's cores with the server and the clients).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import machine, percentile, vm_kib
from lucene_hybrid.bench.http import Connection, load, search_bodies, serve
from lucene_hybrid.cluster import NO_SIGNAL_HANDLER, ShardedCollection, connect_ray
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.search import HybridSearcher
from lucene_hybrid.server import COLLECTIONS_DIR, DocIn

# A local test cluster stays on loopback, with no token, and keeps Ray's failure signal handler
# out of processes that run a JVM (see docs/cluster.md).
LOCAL_CLUSTER_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    **NO_SIGNAL_HANDLER,
}
SINGLE = "single"
SHARD_TOTAL = re.compile(r"shard\d+_total_ms")  # a shard's own time, in a search's timings


@dataclass
class ClusterRow:
    """One collection, mode and client count."""

    collection: str
    shards: int  # 0: the one-process collection
    mode: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    qps: float


@dataclass
class RouterRow:
    """What a search costs the router beyond its shards' own work (one client, hybrid)."""

    collection: str
    shards: int
    server_p50_ms: float  # the server's own time for the search (timings total_ms)
    slowest_shard_p50_ms: float  # the slowest shard's time in its process
    router_p50_ms: float  # median over searches of (server - slowest shard)


@contextmanager
def ray_cluster(address: str | None) -> Iterator[str]:
    """The Ray cluster at ``address``, this process connected to it; None: a two-node cluster
    on loopback started here and stopped afterwards. Yields its address."""
    if address is not None:
        connect_ray(address)
        yield address
        return
    os.environ.update(LOCAL_CLUSTER_ENV)
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    try:
        connect_ray(cluster.address)
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()


def documents(searcher: HybridSearcher, batch: int = 1000) -> Iterator[list[DocIn]]:
    """The index's documents with their stored vectors, in batches."""
    if searcher.dense is None:
        raise LuceneHybridError("the index has no dense half: a sharded collection needs vectors")
    snap = searcher.dense.snapshot()
    for start in range(0, len(snap.ids), batch):
        ids = snap.ids[start : start + batch]
        found = searcher.bm25.fetch(ids)
        yield [
            DocIn(id=d, text=found[d][0], metadata=found[d][1], vector=snap.matrix[start + j])
            for j, d in enumerate(ids)
            if d in found
        ]


def fill(
    searcher: HybridSearcher, data_dir: Path, shards: Sequence[int], heap: str
) -> tuple[dict[int, ShardedCollection], dict[int, float]]:
    """An N-shard collection ``shards-N`` for each N, in the server data directory
    ``data_dir``, holding the index's documents; the routers and each fill's seconds."""
    colls, seconds = {}, {}
    for n in shards:
        name = f"shards-{n}"
        t0 = time.perf_counter()
        coll = ShardedCollection.open(
            name,
            data_dir / COLLECTIONS_DIR / name,
            shards=n,
            encoder_spec=searcher.manifest.encoder,
            encoder=searcher.encoder,
            hnsw=searcher.manifest.hnsw,
            bm25=searcher.manifest.bm25,
            heap=heap,
        )
        for docs in documents(searcher):
            coll.upsert(docs)
        colls[n], seconds[n] = coll, round(time.perf_counter() - t0, 1)
    return colls, seconds


def router_cost(url: str, name: str, shards: int, bodies: Sequence[dict[str, Any]]) -> RouterRow:
    """One client; each search's server time less its slowest shard's."""
    conn = Connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    server, slowest, router = [], [], []
    try:
        for body in bodies:
            payload = json.dumps({**body, "timings": True}).encode()
            status, data = conn.post(f"/v1/collections/{name}/search", payload)
            if status != 200:
                raise LuceneHybridError(f"{name}: search answered {status}: {data[:300]!r}")
            t = json.loads(data)["timings_ms"]
            shard = max((ms for key, ms in t.items() if SHARD_TOTAL.fullmatch(key)), default=0.0)
            server.append(t["total_ms"])
            slowest.append(shard)
            router.append(t["total_ms"] - shard)
    finally:
        conn.close()
    return RouterRow(
        name,
        shards,
        round(statistics.median(server), 3),
        round(statistics.median(slowest), 3),
        round(statistics.median(router), 3),
    )


def run(
    index: Path,
    searcher: HybridSearcher,
    queries: Sequence[str],
    work: Path,
    *,
    shards: Sequence[int] = (1, 2, 4),
    concurrency: Sequence[int] = (1, 4, 16),
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    k: int = 10,
    depth: int = 100,
    heap: str = "512m",
    ray_address: str | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Fill, serve and measure (see the module doc); ``work`` is emptied first."""
    vectors = np.asarray(searcher.query_vectors(queries), dtype=np.float32)
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    rows: list[ClusterRow] = []
    routers: list[RouterRow] = []
    memory: dict[str, Any] = {}
    first: dict[str, float | None] = {}
    with ray_cluster(ray_address) as address:
        colls, fill_s = fill(searcher, data_dir, shards, heap)
        env = {"LUCENE_HYBRID_CLUSTER__SHARD_HEAP": heap}
        if ray_address is None:
            env.update(LOCAL_CLUSTER_ENV)
        try:
            with serve(index, SINGLE, data_dir=data_dir, args=["--ray", address], env=env) as (
                url,
                pid,
            ):
                names = [(SINGLE, 0)] + [(f"shards-{n}", n) for n in shards]
                for mode in modes:
                    bodies = search_bodies(
                        queries, None if mode == "bm25" else vectors, mode, k, depth
                    )
                    for name, n in names:
                        # A first pass, one client: in the first mode every query is new, and
                        # a router learns its terms' statistics from the shards meanwhile.
                        lat, _, _ = load(url, f"/v1/collections/{name}/search", bodies, 1)
                        first[f"{name} {mode}"] = round(percentile(lat, 50), 3) if lat else None
                        for c in concurrency:
                            lat, errors, wall = load(
                                url, f"/v1/collections/{name}/search", bodies, c
                            )
                            rows.append(_row(name, n, mode, c, len(bodies), lat, errors, wall))
                hybrid = search_bodies(queries, vectors, "hybrid", k, depth)
                routers = [router_cost(url, name, n, hybrid) for name, n in names]
                memory["server_rss_mb"] = round(vm_kib(pid, "VmRSS") / 1024, 1)
                if ray_address is None:  # the shard processes are on this machine
                    memory["shard_rss_mb"] = {
                        f"shards-{n}": [round(vm_kib(p, "VmRSS") / 1024, 1) for p in c.pids()]
                        for n, c in colls.items()
                    }
        finally:
            for coll in colls.values():
                coll.shutdown()
    return {
        "label": label or index.name,
        "index": str(index),
        "documents": searcher.bm25.num_docs,
        "queries": len(queries),
        "k": k,
        "depth": depth,
        "shard_heap": heap,
        "ray": ray_address or "a two-node cluster on loopback on this machine",
        "machine": machine(),
        "fill_s": fill_s,
        "first_pass_p50_ms": first,
        "rows": [asdict(r) for r in rows],
        "router": [asdict(r) for r in routers],
        "memory": memory,
    }


def _row(
    name: str, n: int, mode: str, c: int, requests: int, lat: list[float], errors: int, wall: float
) -> ClusterRow:
    def pct(p: float) -> float | None:
        return round(percentile(lat, p), 3) if lat else None

    return ClusterRow(
        name, n, mode, c, requests, errors, pct(50), pct(95), pct(99), round(len(lat) / wall, 1)
    )


def markdown(result: dict[str, Any]) -> str:
    """The latency table (one row per collection and mode, client counts across), the router's
    cost and the memory per shard."""
    conc = sorted({r["concurrency"] for r in result["rows"]})
    head = " | ".join(f"{c} client{'s' if c > 1 else ''}: p50 / p95 / p99 ms, QPS" for c in conc)
    lines = [
        f"## {result['label']}: {result['documents']:,} documents, {result['queries']} queries, "
        f"k={result['k']}, depth {result['depth']}",
        "",
        f"| collection | mode | first pass p50 ms | {head} |",
        "|---|---|---|" + "---|" * len(conc),
    ]
    cells: dict[tuple[str, str], dict[int, str]] = {}
    for r in result["rows"]:
        cell = (
            f"{r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']}, {r['qps']}"
            if r["p50_ms"] is not None
            else "failed"
        )
        if r["errors"]:
            cell += f" ({r['errors']} errors)"
        cells.setdefault((r["collection"], r["mode"]), {})[r["concurrency"]] = cell
    for (name, mode), by_c in cells.items():
        cold = result["first_pass_p50_ms"].get(f"{name} {mode}")
        row = " | ".join(by_c.get(c, "") for c in conc)
        lines.append(f"| {name} | {mode} | {cold} | {row} |")
    lines += [
        "",
        "| collection | server p50 ms | slowest shard p50 ms | router p50 ms |",
        "|---|---|---|---|",
    ]
    for r in result["router"]:
        lines.append(
            f"| {r['collection']} | {r['server_p50_ms']} | {r['slowest_shard_p50_ms']} | "
            f"{r['router_p50_ms']} |"
        )
    mem = result["memory"]
    lines += ["", f"Server process RSS: {mem.get('server_rss_mb')} MB."]
    for name, mbs in mem.get("shard_rss_mb", {}).items():
        lines.append(f"{name}: shard process RSS {', '.join(str(m) for m in mbs)} MB.")
    lines.append(f"Fill through the router (s): {result['fill_s']}.")
    return "\n".join(lines) + "\n"
