"""In-process search benchmark: latency percentiles per mode and stage, and QPS in N threads.

Two ways to time a dense or hybrid search: with the query text (the encoder runs; the
query-embedding cache is bypassed so every query is encoded) or with the query vector given
(encoded once beforehand, as a caller that embeds its own queries would send it). Results go
to JSON and a Markdown table; nothing here asserts a target (targets live in docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import WARMUP_S, machine, peak_rss_mb, percentile, warm_up
from lucene_hybrid.search.hybrid import HybridSearcher
from lucene_hybrid.search.types import SearchParams

STAGES = ("encode_ms", "bm25_ms", "dense_ms", "fusion_ms", "fetch_ms")


@dataclass
class Row:
    """One mode measured one way."""

    mode: str
    input: str  # "text" or "vector"
    threads: int
    queries: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    qps: float
    stages_p50_ms: dict[str, float] = field(default_factory=dict)


def timed_search(
    searcher: HybridSearcher, query: str, vector: np.ndarray | None, params: SearchParams
) -> tuple[float, dict[str, float]]:
    """One search's wall milliseconds and its stage timings; a text query is always encoded."""
    timings: dict[str, float] = {}
    if vector is None and params.mode != "bm25":
        searcher.clear_query_cache()  # time the encoder, not the cache
    t0 = time.perf_counter()
    searcher.search(query, params, vector=vector, timings=timings)
    return (time.perf_counter() - t0) * 1000, timings


def measure(
    searcher: HybridSearcher,
    queries: Sequence[str],
    mode: str,
    *,
    vectors: np.ndarray | None = None,
    threads: int = 1,
    k: int = 10,
    depth: int = 100,
    warmup_s: float = WARMUP_S,
    dense_search: str = "auto",
) -> Row:
    """Run every query once (after ``warmup_s`` of unmeasured ones) in ``threads`` threads."""
    params = SearchParams(
        mode=mode,  # type: ignore[arg-type]
        k=k,
        depth=depth,
        fetch_docs=False,
        dense_search=dense_search or "auto",  # type: ignore[arg-type]
    )
    vecs: list[np.ndarray | None] = (
        [None] * len(queries) if vectors is None or mode == "bm25" else list(vectors)
    )

    def one(i: int) -> tuple[float, dict[str, float]]:
        return timed_search(searcher, queries[i], vecs[i], params)

    warm_up(one, len(queries), warmup_s)
    start = time.perf_counter()
    if threads <= 1:
        results = [one(i) for i in range(len(queries))]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(one, range(len(queries))))
    wall = time.perf_counter() - start
    given = "vector" if vectors is not None and mode != "bm25" else "text"
    return _row(mode, given, threads, results, wall)


def _row(
    mode: str, given: str, threads: int, results: list[tuple[float, dict[str, float]]], wall: float
) -> Row:
    lat = [r[0] for r in results]
    stages = {
        s: round(statistics.median(r[1][s] for r in results), 3)
        for s in STAGES
        if all(s in r[1] for r in results)
    }
    return Row(
        mode=mode,
        input=given,
        threads=threads,
        queries=len(results),
        p50_ms=round(percentile(lat, 50), 3),
        p95_ms=round(percentile(lat, 95), 3),
        p99_ms=round(percentile(lat, 99), 3),
        mean_ms=round(statistics.fmean(lat), 3),
        qps=round(len(results) / wall, 1),
        stages_p50_ms=stages,
    )


def measure_encoding(
    searcher: HybridSearcher,
    queries: Sequence[str],
    *,
    k: int = 10,
    depth: int = 100,
    warmup_s: float = WARMUP_S,
) -> list[Row]:
    """The query encoder alone and a hybrid search with text, alternating query by query.

    The yardstick for "hybrid with text costs encoding + a few ms": alternating makes the two
    share the machine's drift and cache state (the encoder alone in a loop keeps its weights
    in cache and ran 3-4 ms faster than between searches).
    """
    params = SearchParams(mode="hybrid", k=k, depth=depth, fetch_docs=False)

    def encode(i: int) -> tuple[float, dict[str, float]]:
        t0 = time.perf_counter()
        searcher.query_vectors([queries[i]])
        return (time.perf_counter() - t0) * 1000, {}

    def both(i: int) -> tuple[tuple[float, dict[str, float]], tuple[float, dict[str, float]]]:
        return encode(i), timed_search(searcher, queries[i], None, params)

    warm_up(both, len(queries), warmup_s)
    pairs = [both(i) for i in range(len(queries))]
    encoded, searched = [p[0] for p in pairs], [p[1] for p in pairs]
    busy = [sum(r[0] for r in rs) / 1000 for rs in (encoded, searched)]  # each one's own time
    return [
        _row("query encoding only", "text", 1, encoded, busy[0]),
        _row("hybrid, alternating with encoding only", "text", 1, searched, busy[1]),
    ]


def run(
    searcher: HybridSearcher,
    queries: Sequence[str],
    *,
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    threads: Sequence[int] = (1, 4),
    k: int = 10,
    depth: int = 100,
    label: str = "",
    dense_search: str = "auto",
) -> dict[str, Any]:
    """Every mode, with text and (for dense and hybrid) with vectors given, at each thread count."""
    vectors = None
    if any(m != "bm25" for m in modes) and searcher.encoder is not None:
        vectors = searcher.query_vectors(list(queries))
    rows: list[Row] = []
    for mode in modes:
        inputs = [None] if mode == "bm25" or vectors is None else [None, vectors]
        if mode == "hybrid" and vectors is not None:
            rows.extend(measure_encoding(searcher, queries, k=k, depth=depth))
        for given in inputs:
            for n in threads:
                rows.append(
                    measure(
                        searcher,
                        queries,
                        mode,
                        vectors=given,
                        threads=n,
                        k=k,
                        depth=depth,
                        dense_search=dense_search,
                    )
                )
    if "hybrid" in modes and vectors is not None:  # what the adaptive choice is worth
        default = searcher.parallel_retrieval
        try:
            for forced, name in ((True, "concurrent"), (False, "in sequence")):
                searcher.parallel_retrieval = forced
                for n in threads:
                    row = measure(
                        searcher,
                        queries,
                        "hybrid",
                        vectors=vectors,
                        threads=n,
                        k=k,
                        depth=depth,
                        dense_search=dense_search,
                    )
                    row.mode = f"hybrid, halves always {name}"
                    rows.append(row)
        finally:
            searcher.parallel_retrieval = default
    return {
        "label": label,
        "documents": searcher.bm25.num_docs,
        "k": k,
        "depth": depth,
        "dense_search": dense_search,
        "machine": machine(),
        "peak_rss_mb": peak_rss_mb(),
        "rows": [asdict(r) for r in rows],
    }


def markdown(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"{result['label']}: {result['documents']:,} documents, k={result['k']}, depth "
        f"{result['depth']}, dense search {result.get('dense_search', 'auto')}; "
        f"{result['machine']['cpus']} CPUs; peak RSS "
        f"{result['peak_rss_mb']:,.0f} MB (the benchmark process, model included)",
        "",
        "| mode | input | threads | p50 ms | p95 ms | p99 ms | QPS | stages p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        stages = ", ".join(
            f"{s.removesuffix('_ms')} {v:.2f}" for s, v in r["stages_p50_ms"].items() if v >= 0.005
        )
        lines.append(
            f"| {r['mode']} | {r['input']} | {r['threads']} | {r['p50_ms']:.2f} | "
            f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['qps']:,.0f} | {stages} |"
        )
    return "\n".join(lines) + "\n"
