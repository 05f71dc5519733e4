"""Lucene 10's vector formats side by side on one index: size, build, speed, recall, quality.

A copy of the index is rebuilt in each format in turn (``reindex --quantization``: the HNSW half
from the stored vectors, nothing re-encoded), and each is measured the same way: the HNSW half's
size on disk and the part of it a graph search reads (graph plus the vectors it compares:
float32 for ``none``, the quantized copy otherwise), its build time, dense HNSW latency in one
thread, recall@10 against exact search over the float32 vectors, and, with judgments, nDCG@10
of dense and of the default hybrid search, both on the graph (``dense_search=hnsw``).

Query vectors come from the index's encoder, or, for a ``precomputed`` index (``bench scale``'s
collections), from the same hashed encoder that made its vectors.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import machine
from lucene_hybrid.bench.scale import hash_vectors, hnsw_recall
from lucene_hybrid.bench.search import measure
from lucene_hybrid.core.manifest import HNSW_DIR, QUANTIZATIONS, read_manifest
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.indexing.lucene_store import file_sizes
from lucene_hybrid.indexing.reindex import requantize
from lucene_hybrid.search.hybrid import DEFAULT_EF_SEARCH, HybridSearcher, open_index
from lucene_hybrid.search.types import SearchParams

# What a graph search reads, by Lucene file extension: the graph (.vex) and the vectors its
# comparisons use, float32 (.vec) without quantization, the quantized copy (.veq) with it.
GRAPH = ".vex"
FLOATS = ".vec"
QUANTIZED = ".veq"


def searched_mb(hnsw: Path, quantized: bool) -> float:
    """Megabytes of the graph and of the vectors a graph search compares."""
    wanted = (GRAPH, QUANTIZED if quantized else FLOATS)
    sizes = file_sizes(hnsw)
    return round(sum(n for name, n in sizes.items() if name.endswith(wanted)) / 2**20, 3)


def _mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20, 3)


def _query_vectors(searcher: HybridSearcher, queries: Sequence[str], dim: int) -> np.ndarray:
    if searcher.encoder is None:
        return hash_vectors(queries, dim)
    return np.asarray(searcher.encoder.encode_queries(list(queries)), dtype=np.float32)


def _ndcg(
    searcher: HybridSearcher,
    topics: Mapping[str, str],
    vectors: np.ndarray,
    qrels: Mapping[str, Mapping[str, int]],
    mode: str,
) -> float:
    run = {}
    for (qid, text), vec in zip(topics.items(), vectors, strict=True):
        params = SearchParams(mode=mode, k=10, dense_search="hnsw", fetch_docs=False)  # type: ignore[arg-type]
        hits = searcher.search(text, params, vector=vec)
        run[qid] = {h.docid: h.score for h in hits}
    return round(evaluate(run, qrels, ("nDCG@10",)).mean["nDCG@10"], 4)


def one_format(
    index: Path,
    quantization: str,
    topics: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]] | None,
    *,
    oversample: float | None,
    threads: int,
) -> dict[str, Any]:
    """Rebuild ``index`` (a scratch copy) as ``quantization`` and measure it."""
    t0 = time.perf_counter()
    manifest = requantize(
        index, quantization, oversample=oversample, threads=threads, progress=False
    )
    rebuild_s = time.perf_counter() - t0
    searcher = open_index(index, load_query_encoder=manifest.encoder.kind != "precomputed")
    try:
        queries = list(topics.values())
        vectors = _query_vectors(searcher, queries, manifest.dim)
        row = measure(searcher, queries, "dense", vectors=vectors, dense_search="hnsw")
        result: dict[str, Any] = {
            "quantization": quantization,
            "oversample": manifest.hnsw.oversample if quantization != "none" else None,
            "hnsw_build_s": round(manifest.timings.get("hnsw_index_s", rebuild_s), 1),
            "hnsw_mb": _mb(index / HNSW_DIR),
            "searched_mb": searched_mb(index / HNSW_DIR, quantization != "none"),
            "dense_p50_ms": row.p50_ms,
            "dense_p99_ms": row.p99_ms,
            "recall_at_10": hnsw_recall(searcher, vectors, k=10),
        }
        if qrels:
            for mode in ("dense", "hybrid"):
                result[f"{mode}_ndcg_at_10"] = _ndcg(searcher, topics, vectors, qrels, mode)
    finally:
        searcher.close()
    return result


def run(
    index: Path,
    topics: Mapping[str, str],
    work: Path,
    *,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    formats: Sequence[str] = QUANTIZATIONS,
    oversample: float | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """Every format in turn on one scratch copy of ``index`` (``work/index``; removed after)."""
    scratch = work / "index"
    shutil.rmtree(scratch, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(index, scratch)
    manifest = read_manifest(scratch)
    try:
        rows = [
            one_format(scratch, f, topics, qrels, oversample=oversample, threads=threads)
            for f in formats
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "benchmark": "quantization",
        "index": str(index),
        "documents": manifest.documents,
        "dim": manifest.dim,
        "queries": len(topics),
        "ef_search": DEFAULT_EF_SEARCH,
        "machine": machine(),
        "at": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    """The comparison table, one row per format."""
    judged = any("dense_ndcg_at_10" in r for r in result["rows"])
    head = (
        "| format | oversample | HNSW build s | HNSW MB | searched MB | dense p50 ms | "
        "dense p99 ms | recall@10 |" + (" dense nDCG@10 | hybrid nDCG@10 |" if judged else "")
    )
    lines = [
        f"{result['documents']:,} documents x {result['dim']} dims, {result['queries']} "
        f"queries, efSearch {result['ef_search']}, one thread ({result['at']})",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for r in result["rows"]:
        over = "" if r["oversample"] is None else f"{r['oversample']:g}"
        cells = [
            r["quantization"],
            over,
            f"{r['hnsw_build_s']:.1f}",
            f"{r['hnsw_mb']:.1f}",
            f"{r['searched_mb']:.1f}",
            f"{r['dense_p50_ms']:.2f}",
            f"{r['dense_p99_ms']:.2f}",
            f"{r['recall_at_10']:.3f}",
        ]
        if judged:
            cells += [f"{r['dense_ndcg_at_10']:.4f}", f"{r['hybrid_ndcg_at_10']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
