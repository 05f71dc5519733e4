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
statistics of terms it has not seen), then the measured rows at each client count. Last,
hybrid with one client through every collection in turn, a block of queries at a time (three
passes): each search's time at the client beside the one-process collection's, measured on the
same machine at the same moment, and the router's own cost (the server's time less its slowest
shard's).

Collections already built (``index --shards N``, e.g. of a million documents, which would take
long to upsert) are linked into the server's data directory instead of filled. With efSearch
values to sweep, dense search is also measured for recall@k against exact search (computed here
from the index's vectors): each collection through the server and the index in this process,
at their default and at each efSearch given, and optionally Chroma's HNSW holding the same
vectors in this process, as it ships; one client.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import machine, peak_rss_mb, percentile, vm_kib
from lucene_hybrid.bench.http import Connection, load, search_bodies, serve
from lucene_hybrid.bench.peers import chroma_collection
from lucene_hybrid.cluster import (
    CLUSTER_FILE,
    NO_SIGNAL_HANDLER,
    ClusterSpec,
    ShardedCollection,
    connect_ray,
)
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import read_manifest
from lucene_hybrid.core.sharding import SHARD_DIR
from lucene_hybrid.search import HybridSearcher, SearchParams
from lucene_hybrid.server import COLLECTIONS_DIR, DocIn

# A local test cluster stays on loopback, with no token, and keeps Ray's failure signal handler
# out of processes that run a JVM (see docs/cluster.md).
LOCAL_CLUSTER_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    **NO_SIGNAL_HANDLER,
}
SINGLE = "single"
WARM_UP = 50  # queries sent unmeasured before a recall row
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
    """One client, hybrid, every collection measured in turn on the same machine: what a search
    costs at the client, and what it costs the router beyond its shards' own work."""

    collection: str
    shards: int
    client_p50_ms: float  # a search's time at the client (HTTP included)
    client_p95_ms: float
    over_single_ms: float  # client p50 less the one-process collection's
    server_p50_ms: float  # the server's own time for the search (timings total_ms)
    slowest_shard_p50_ms: float  # the slowest shard's time in its process
    router_p50_ms: float  # median over searches of (server - slowest shard)


@dataclass
class RecallRow:
    """Dense search at one efSearch (None: the system's own default), one client: recall@k
    against exact search, and latency."""

    system: str
    ef_search: int | None
    recall: float
    p50_ms: float
    p95_ms: float


def exact_top(
    ids: Sequence[str], matrix: np.ndarray, queries: np.ndarray, k: int
) -> list[set[str]]:
    """Each query's ``k`` best documents by dot product over every vector (the reference)."""
    out: list[set[str]] = []
    for start in range(0, len(queries), 32):  # 32 x n scores at a time
        scores = queries[start : start + 32] @ matrix.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out.extend({ids[j] for j in row} for row in best)
    return out


def recall_row(
    system: str,
    ef: int | None,
    search: Callable[[np.ndarray, int | None], list[str]],
    queries: np.ndarray,
    exact: Sequence[set[str]],
) -> RecallRow:
    """Every query once through ``search(vector, ef)``: recall against ``exact``, latency
    (after a warm-up pass of up to ``WARM_UP`` queries, unmeasured)."""
    for q in queries[:WARM_UP]:
        search(q, ef)
    lat, found = [], 0
    for q, best in zip(queries, exact, strict=True):
        t0 = time.perf_counter()
        got = search(q, ef)
        lat.append((time.perf_counter() - t0) * 1000)
        found += len(best & set(got))
    k = len(exact[0]) if exact else 1
    return RecallRow(
        system,
        ef,
        round(found / (k * len(exact)), 4),
        round(percentile(lat, 50), 3),
        round(percentile(lat, 95), 3),
    )


def _search(conn: Connection, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """One search of collection ``name``: its answer, or an error naming what the server said."""
    status, data = conn.post(f"/v1/collections/{name}/search", json.dumps(body).encode())
    if status != 200:
        raise LuceneHybridError(f"{name}: search answered {status}: {data[:300]!r}")
    return dict(json.loads(data))


@contextmanager
def served_dense(
    url: str, name: str, k: int
) -> Iterator[Callable[[np.ndarray, int | None], list[str]]]:
    """Dense search of collection ``name`` through the server, vector given, on one
    connection closed afterwards."""
    conn = Connection.to(url)

    def search(v: np.ndarray, ef: int | None) -> list[str]:
        body: dict[str, Any] = {"mode": "dense", "k": k, "vector": v.tolist()}
        body["include_text"] = False
        if ef is not None:
            body["ef_search"] = ef
        return [h["id"] for h in _search(conn, name, body)["hits"]]

    try:
        yield search
    finally:
        conn.close()


def in_process_dense(
    searcher: HybridSearcher, k: int
) -> Callable[[np.ndarray, int | None], list[str]]:
    """Dense HNSW search of the index in this process, vector given."""

    def search(v: np.ndarray, ef: int | None) -> list[str]:
        params = SearchParams(
            mode="dense", k=k, dense_search="hnsw", ef_search=ef, fetch_docs=False
        )
        return [h.docid for h in searcher.search(None, params, vector=v)]

    return search


def as_one_shard(index: Path, dest: Path) -> Path:
    """A one-shard collection at ``dest`` holding a built index's files (hard links: nothing
    is copied); what `index --shards 1 --ray` builds from the same corpus."""
    m = read_manifest(index)
    spec = ClusterSpec(dest.name, 1, m.encoder, m.dim, m.hnsw, m.bm25, created_at=m.created_at)
    dest.mkdir(parents=True)
    shutil.copytree(  # Lucene never rewrites a file; each folder gets its own write lock
        index,
        dest / SHARD_DIR.format(0),
        copy_function=os.link,
        ignore=shutil.ignore_patterns("write.lock"),
    )
    (dest / CLUSTER_FILE).write_text(spec.to_json())
    return dest


def attach(
    built: dict[int, Path], data_dir: Path, heap: str
) -> tuple[dict[int, ShardedCollection], dict[int, float]]:
    """Built sharded collections linked into the server data directory as ``shards-N``, their
    routers started; the seconds each took to open. A built index (no ``cluster.json``) given
    for one shard is linked in as :func:`as_one_shard`."""
    colls, seconds = {}, {}
    for n, path in built.items():
        name = f"shards-{n}"
        if n == 1 and not (path / CLUSTER_FILE).exists():
            path = as_one_shard(path, data_dir.parent / "one-shard" / name)
        link = data_dir / COLLECTIONS_DIR / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve(), target_is_directory=True)
        t0 = time.perf_counter()
        colls[n] = ShardedCollection.open(name, link, shards=n, heap=heap)
        seconds[n] = round(time.perf_counter() - t0, 1)
    return colls, seconds


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


def router_cost(
    url: str,
    names: Sequence[tuple[str, int]],
    bodies: Sequence[dict[str, Any]],
    passes: int = 3,
    block: int = 25,
) -> list[RouterRow]:
    """One client, ``passes`` times over ``bodies``: each block of queries searched in every
    collection in turn (the first of ``names`` is the one-process collection), so that a drift
    of the machine (another process, a JIT still warming up) falls on all of them alike."""
    conn = Connection.to(url)
    client: dict[str, list[float]] = {name: [] for name, _ in names}
    server: dict[str, list[float]] = {name: [] for name in client}
    slowest: dict[str, list[float]] = {name: [] for name in client}
    try:
        for _ in range(passes):
            for start in range(0, len(bodies), block):
                for name in client:
                    for body in bodies[start : start + block]:
                        t0 = time.perf_counter()
                        t = _search(conn, name, {**body, "timings": True})["timings_ms"]
                        client[name].append((time.perf_counter() - t0) * 1000)
                        shard = (ms for key, ms in t.items() if SHARD_TOTAL.fullmatch(key))
                        server[name].append(t["total_ms"])
                        slowest[name].append(max(shard, default=0.0))
    finally:
        conn.close()
    base = percentile(client[names[0][0]], 50)
    rows = []
    for name, n in names:
        p50 = percentile(client[name], 50)
        router = [a - b for a, b in zip(server[name], slowest[name], strict=True)]
        rows.append(
            RouterRow(
                name,
                n,
                round(p50, 3),
                round(percentile(client[name], 95), 3),
                round(p50 - base, 3),
                round(statistics.median(server[name]), 3),
                round(statistics.median(slowest[name]), 3),
                round(statistics.median(router), 3),
            )
        )
    return rows


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
    built: dict[int, Path] | None = None,
    ef_sweep: Sequence[int] = (),
    chroma: bool = False,
    query_vectors: np.ndarray | None = None,
) -> dict[str, Any]:
    """Fill (or attach ``built``), serve and measure (see the module doc); ``work`` is emptied
    first. ``ef_sweep``: efSearch values for the recall rows (none: no recall rows).
    ``query_vectors``: the queries' vectors when the index has no query encoder."""
    vectors = (
        np.asarray(searcher.query_vectors(queries), dtype=np.float32)
        if query_vectors is None
        else query_vectors
    )
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    rows: list[ClusterRow] = []
    routers: list[RouterRow] = []
    recall: list[RecallRow] = []
    memory: dict[str, Any] = {}
    first: dict[str, float | None] = {}
    exact: list[set[str]] = []
    if ef_sweep:
        assert searcher.dense is not None
        snap = searcher.dense.snapshot()
        exact = exact_top(snap.ids, snap.matrix, vectors, k)
        if chroma:
            recall += chroma_recall(snap.ids, snap.matrix, vectors, exact, k, memory)
        del snap
        ours = in_process_dense(searcher, k)
        recall += [
            recall_row("one index, in process", ef, ours, vectors, exact)
            for ef in (None, *ef_sweep)
        ]
    with ray_cluster(ray_address) as address:
        filled = [n for n in shards if n not in (built or {})]
        colls, fill_s = fill(searcher, data_dir, filled, heap)
        attached, open_s = attach(built or {}, data_dir, heap)
        colls.update(attached)
        opened = {n: f"built, opened in {s} s" for n, s in open_s.items()}
        env = {"LUCENE_HYBRID_CLUSTER__SHARD_HEAP": heap}
        if ray_address is None:
            env.update(LOCAL_CLUSTER_ENV)
        try:
            with serve(index, SINGLE, data_dir=data_dir, args=["--ray", address], env=env) as (
                url,
                pid,
            ):
                names = [(SINGLE, 0)] + [(f"shards-{n}", n) for n in sorted(colls)]
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
                routers = router_cost(url, names, hybrid)
                for name, _ in names if ef_sweep else []:
                    with served_dense(url, name, k) as served:
                        recall += [
                            recall_row(name, ef, served, vectors, exact) for ef in (None, *ef_sweep)
                        ]
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
        "fill_s": {**fill_s, **opened},
        "first_pass_p50_ms": first,
        "rows": [asdict(r) for r in rows],
        "router": [asdict(r) for r in routers],
        "recall": [asdict(r) for r in recall],
        "memory": memory,
    }


def chroma_recall(
    ids: list[str],
    matrix: np.ndarray,
    queries: np.ndarray,
    exact: Sequence[set[str]],
    k: int,
    memory: dict[str, Any],
) -> list[RecallRow]:
    """Chroma's HNSW holding the same vectors (in this process, inner product), as it ships;
    its load time and this process's peak RSS go in ``memory``. Only its default efSearch:
    ``modify`` changes a loaded collection's setting but not its answers (the same recall at
    efSearch 10, 100 and 500 on 20k vectors), and loading a million vectors once per value
    takes minutes each; recall is matched by sweeping ours instead."""
    t0 = time.perf_counter()
    col = chroma_collection(ids, None, matrix)
    memory["chroma_load_s"] = round(time.perf_counter() - t0, 1)
    memory["peak_rss_mb_with_chroma"] = peak_rss_mb()

    def search(v: np.ndarray, ef: int | None) -> list[str]:
        return list(col.query(query_embeddings=[v], n_results=k, include=[])["ids"][0])

    return [recall_row("chroma, in process", None, search, queries, exact)]


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
        "Hybrid, one client, the collections in turn (blocks of queries, three passes):",
        "",
        "| collection | client p50 / p95 ms | p50 over single ms | server p50 ms | "
        "slowest shard p50 ms | router p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["router"]:
        lines.append(
            f"| {r['collection']} | {r['client_p50_ms']} / {r['client_p95_ms']} | "
            f"{r['over_single_ms']:+} | {r['server_p50_ms']} | {r['slowest_shard_p50_ms']} | "
            f"{r['router_p50_ms']} |"
        )
    if result.get("recall"):
        lines += [
            "",
            f"| dense search | efSearch | recall@{result['k']} | p50 ms | p95 ms |",
            "|---|---|---|---|---|",
        ]
        for r in result["recall"]:
            ef = r["ef_search"] if r["ef_search"] is not None else "default"
            lines.append(
                f"| {r['system']} | {ef} | {r['recall']:.3f} | {r['p50_ms']} | {r['p95_ms']} |"
            )
    mem = result["memory"]
    lines += ["", f"Server process RSS: {mem.get('server_rss_mb')} MB."]
    for name, mbs in mem.get("shard_rss_mb", {}).items():
        lines.append(f"{name}: shard process RSS {', '.join(str(m) for m in mbs)} MB.")
    lines.append(f"Fill through the router (s): {result['fill_s']}.")
    if "chroma_load_s" in mem:
        lines.append(
            f"Chroma took {mem['chroma_load_s']} s to load the vectors; this process's peak "
            f"RSS with it: {mem['peak_rss_mb_with_chroma']} MB."
        )
    return "\n".join(lines) + "\n"
