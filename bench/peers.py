"""Peers in the same run: the index's own vectors and texts loaded into Chroma, Qdrant (local
mode) and LanceDB, queried with the same query vectors as lucene-hybrid, timed the same way.

Needs the optional ``[bench]`` extra (``pip install -e '.[bench]'``). Every system gets the
documents' stored vectors (no peer re-encodes anything) and the query vector given, so the
figures compare retrieval alone. Chroma builds an HNSW graph; Qdrant's local mode and LanceDB
without a vector index search exactly (brute force), as a user who installs them gets by
default; LanceDB's hybrid is its native full-text index fused by its RRF reranker.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import machine, peak_rss_mb, percentile, warm_up
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import BM25_DIR, HNSW_DIR
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.indexing.reindex import iter_documents
from lucene_hybrid.search.hybrid import HybridSearcher
from lucene_hybrid.search.lucene_search import DenseSearcher, open_readonly
from lucene_hybrid.search.types import SearchParams

PEERS = ("chroma", "qdrant", "lancedb")
QPS_MIN_S = 2.0  # each throughput figure is read over at least this long
ROUNDS = 3  # every system measured in turn, this many times

# One query: (text, vector) -> document ids, best first.
SearchFn = Callable[[str, np.ndarray], list[str]]


@dataclass
class PeerRow:
    """One system and mode: quality (when judged) and latency with the query vector given."""

    system: str
    mode: str
    queries: int
    ndcg_at_10: float | None
    p50_ms: float
    p95_ms: float
    qps: float
    qps_threads: int
    load_s: float


def load_index_data(index: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Every document's id, text and stored vector, read from a lucene-hybrid index."""
    bm25, hnsw = open_readonly(index / BM25_DIR), open_readonly(index / HNSW_DIR)
    try:
        texts = {d.docid: d.text for d in iter_documents(bm25, hnsw)}
        snap = DenseSearcher(hnsw, 0).snapshot()  # every vector in one crossing
    finally:
        bm25.close()
        hnsw.close()
    return snap.ids, [texts.get(i, "") for i in snap.ids], snap.matrix


def chroma_collection(ids: list[str], texts: list[str] | None, vectors: np.ndarray) -> Any:
    """A Chroma collection in this process (its HNSW with the settings it ships with, inner
    product) holding the vectors, and the texts when given."""
    import chromadb

    client = chromadb.EphemeralClient()
    name = f"bench-{time.monotonic_ns()}"
    col = client.create_collection(name, configuration={"hnsw": {"space": "ip"}})
    step = 4096
    for s in range(0, len(ids), step):
        col.add(
            ids=ids[s : s + step],
            embeddings=vectors[s : s + step],
            documents=texts[s : s + step] if texts is not None else None,
        )
    return col


def _chroma(ids: list[str], texts: list[str], vectors: np.ndarray, k: int) -> SearchFn:
    col = chroma_collection(ids, texts, vectors)

    def search(_: str, v: np.ndarray) -> list[str]:
        out = col.query(query_embeddings=[v], n_results=k, include=[])
        return list(out["ids"][0])

    return search


def _qdrant(ids: list[str], vectors: np.ndarray, k: int) -> SearchFn:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    params = models.VectorParams(size=vectors.shape[1], distance=models.Distance.DOT)
    client.create_collection("bench", vectors_config=params)
    client.upload_collection(
        "bench", vectors=vectors, ids=list(range(len(ids))), payload=[{"id": i} for i in ids]
    )

    def search(_: str, v: np.ndarray) -> list[str]:
        points = client.query_points("bench", query=v, limit=k, with_payload=True).points
        return [p.payload["id"] for p in points if p.payload]

    return search


def _lancedb(
    ids: list[str], texts: list[str], vectors: np.ndarray, k: int, hybrid: bool
) -> tuple[SearchFn, Any]:
    import lancedb
    import pyarrow as pa
    from lancedb.rerankers import RRFReranker

    tmp = tempfile.TemporaryDirectory(prefix="lh-bench-lancedb-")
    db = lancedb.connect(tmp.name)
    flat = pa.array(vectors.ravel(), type=pa.float32())
    table = pa.table(
        {
            "id": ids,
            "text": texts,
            "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
        }
    )
    tbl = db.create_table("bench", data=table)
    if not hybrid:

        def dense(_: str, v: np.ndarray) -> list[str]:
            q = tbl.search(v).distance_type("dot")  # type: ignore[attr-defined]
            q = q.limit(k).select(["id", "_distance"])
            return [r["id"] for r in q.to_list()]

        return dense, tmp
    tbl.create_fts_index("text")
    reranker = RRFReranker()

    def fused(text: str, v: np.ndarray) -> list[str]:
        q = tbl.search(query_type="hybrid").vector(v).text(text).limit(k)
        return [r["id"] for r in q.rerank(reranker).select(["id"]).to_list()]

    return fused, tmp


def _ours(searcher: HybridSearcher, mode: str, how: str, k: int, depth: int) -> SearchFn:
    params = SearchParams(
        mode=mode,  # type: ignore[arg-type]
        k=k,
        depth=depth,
        fetch_docs=False,
        dense_search=how,  # type: ignore[arg-type]
    )

    def search(text: str, v: np.ndarray) -> list[str]:
        return [h.docid for h in searcher.search(text, params, vector=v)]

    return search


@dataclass
class _System:
    """One row being measured: its search, and what its rounds gathered."""

    system: str
    mode: str
    fn: SearchFn
    load_s: float
    keep: Any = None  # what must outlive the measurement (e.g. LanceDB's folder)
    latencies: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    ranked: dict[str, list[str]] = field(default_factory=dict)


def _round(s: _System, queries: Sequence[tuple[str, str, np.ndarray]], threads: int) -> None:
    """One pass one query at a time (latency), then throughput in ``threads`` threads."""
    for qid, text, v in queries:
        t0 = time.perf_counter()
        s.ranked[qid] = s.fn(text, v)
        s.latencies.append((time.perf_counter() - t0) * 1000)
    # Throughput: the queries again and again for at least QPS_MIN_S (one pass of 300 fast
    # queries is a fraction of a second, too short to read a rate from on a drifting machine).
    done, start = 0, time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while not done or time.perf_counter() - start < QPS_MIN_S:
            list(pool.map(lambda q: s.fn(q[1], q[2]), queries))
            done += len(queries)
    s.rates.append(done / (time.perf_counter() - start))


def _row(s: _System, qrels: dict[str, dict[str, int]] | None, threads: int) -> PeerRow:
    ndcg = None
    if qrels:
        run = {q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in s.ranked.items()}
        judged = {q: qrels[q] for q in run if q in qrels}
        ndcg = round(evaluate(run, judged, ("nDCG@10",)).mean["nDCG@10"], 4)
    return PeerRow(
        system=s.system,
        mode=s.mode,
        queries=len(s.ranked),
        ndcg_at_10=ndcg,
        p50_ms=round(percentile(s.latencies, 50), 3),
        p95_ms=round(percentile(s.latencies, 95), 3),
        qps=round(statistics.median(s.rates), 1),
        qps_threads=threads,
        load_s=round(s.load_s, 2),
    )


def _cycling(fn: SearchFn, queries: Sequence[tuple[str, str, np.ndarray]]) -> Callable[[int], Any]:
    return lambda i: fn(queries[i][1], queries[i][2])


def _peer_setups(
    peer: str, ids: list[str], texts: list[str], vectors: np.ndarray, k: int
) -> list[tuple[str, Callable[[], tuple[SearchFn, Any]]]]:
    if peer == "chroma":
        return [("dense", lambda: (_chroma(ids, texts, vectors, k), None))]
    if peer == "qdrant":
        return [("dense", lambda: (_qdrant(ids, vectors, k), None))]
    return [
        ("dense", lambda: _lancedb(ids, texts, vectors, k, hybrid=False)),
        ("hybrid (native RRF)", lambda: _lancedb(ids, texts, vectors, k, hybrid=True)),
    ]


def run(
    searcher: HybridSearcher,
    index: Path,
    topics: dict[str, str],
    *,
    qrels: dict[str, dict[str, int]] | None = None,
    peers: Sequence[str] = PEERS,
    threads: int = 4,
    k: int = 10,
    depth: int = 100,
    label: str = "",
    rounds: int = ROUNDS,
) -> dict[str, Any]:
    """lucene-hybrid's dense and hybrid beside each peer, measured in alternating rounds.

    Every system is set up and warmed up first; then each round measures every system in
    turn (latency pass, then throughput), so a drift of the machine's speed during the run
    falls on all of them alike. Latency percentiles are over every round's queries, QPS is
    the median round's.
    """
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise LuceneHybridError(f"unknown peers {sorted(unknown)}; choose from {PEERS}")
    if rounds < 1:
        raise LuceneHybridError(f"--rounds must be at least 1, not {rounds}")
    qids = sorted(topics)
    vectors_q = searcher.query_vectors([topics[q] for q in qids])
    queries = [(q, topics[q], vectors_q[i]) for i, q in enumerate(qids)]
    # The default ("auto": exact on small collections), and HNSW, as Chroma searches.
    auto_is = "exact" if searcher.exact is not None and searcher.exact.current() else "HNSW"
    ways = [("auto", f"auto: {auto_is}")] + ([("hnsw", "HNSW")] if auto_is == "exact" else [])
    systems = [
        _System("lucene-hybrid", f"{mode} ({label})", _ours(searcher, mode, how, k, depth), 0)
        for mode in ("dense", "hybrid")
        for how, label in ways
    ]
    t0 = time.perf_counter()
    ids, texts, vectors = load_index_data(index)
    read_s = time.perf_counter() - t0
    for peer in peers:
        for mode, setup in _peer_setups(peer, ids, texts, vectors, k):
            t0 = time.perf_counter()
            try:
                fn, keep = setup()
            except ImportError as exc:
                raise LuceneHybridError(
                    f"peer {peer} is not installed: pip install -e '.[bench]' ({exc})"
                ) from exc
            systems.append(_System(peer, mode, fn, time.perf_counter() - t0, keep))
    for s in systems:
        warm_up(_cycling(s.fn, queries), len(queries))
    for _ in range(rounds):
        for s in systems:
            _round(s, queries, threads)
    rows = [_row(s, qrels, threads) for s in systems]
    return {
        "label": label,
        "documents": len(ids),
        "queries": len(queries),
        "k": k,
        "depth": depth,
        "rounds": rounds,
        "read_vectors_s": round(read_s, 2),
        "machine": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "rows": [asdict(r) for r in rows],
    }


def markdown(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"{result['label']}: {result['documents']:,} documents, {result['queries']} queries, "
        f"k={result['k']}, query vector given, {result.get('rounds', 1)} alternating rounds; "
        f"{result['machine']['cpus']} × "
        f"{result['machine']['cpu']}",
        "",
        "| system | mode | nDCG@10 | p50 ms | p95 ms | QPS (threads) | load s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ndcg = "—" if r["ndcg_at_10"] is None else f"{r['ndcg_at_10']:.4f}"
        lines.append(
            f"| {r['system']} | {r['mode']} | {ndcg} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
            f"{r['qps']:,.0f} ({r['qps_threads']}) | {r['load_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"
