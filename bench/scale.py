"""The cost curve: build and query collections of growing size (10k, 100k, 1M documents).

The corpus is real passages repeated with perturbation: document i is source passage
``i % len(sources)``; every copy after the first drops ~15 % of its words at random and gets a
copy tag, so BM25 sees distinct documents with real term statistics. Vectors come from a fast
deterministic encoder (signed feature hashing of words into ``dim`` buckets, L2-normalized):
no model runs, so the curve measures the engine, not the encoder, and near-copies of a passage
get near vectors as they would from a real model. Queries are real queries encoded the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import folder_mb, machine, peak_rss_mb
from lucene_hybrid.bench.search import measure
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.indexing.corpus import read_corpus
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.search.hybrid import HybridSearcher, open_index
from lucene_hybrid.search.types import SearchParams

_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=1 << 20)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def hash_vectors(texts: Sequence[str], dim: int = 384) -> np.ndarray:
    """Signed feature hashing of lower-cased words, L2-normalized (deterministic, no model)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            h = _word_hash(word)
            out[row, h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def synthetic_documents(
    sources: Sequence[str], n: int, seed: int = 13
) -> Iterator[tuple[str, str]]:
    """``n`` (docid, text): the sources, then perturbed copies of them (see the module doc)."""
    for i in range(n):
        text = sources[i % len(sources)]
        copy = i // len(sources)
        if copy:
            rng = random.Random(seed * 1_000_003 + i)
            words = [w for w in text.split() if rng.random() > 0.15] or text.split()[:1]
            text = " ".join(words) + f" copy{copy}"
        yield f"d{i}", text


def _json_line(docid: str, text: str, vec: np.ndarray) -> bytes:
    try:  # 15 us a document instead of 130-290 (json / f-strings) for 384 floats
        import orjson
    except ImportError:
        return json.dumps({"id": docid, "contents": text, "vector": vec.tolist()}).encode()
    return orjson.dumps(
        {"id": docid, "contents": text, "vector": vec}, option=orjson.OPT_SERIALIZE_NUMPY
    )


def write_corpus(sources: Sequence[str], n: int, path: Path, dim: int, batch: int = 2048) -> None:
    """Pyserini jsonl with the hashed vectors in a ``vector`` field."""
    with path.open("wb") as f:
        docs = synthetic_documents(sources, n)
        while True:
            chunk = [d for _, d in zip(range(batch), docs, strict=False)]
            if not chunk:
                return
            vectors = hash_vectors([t for _, t in chunk], dim)
            for (docid, text), vec in zip(chunk, vectors, strict=True):
                f.write(_json_line(docid, text, vec) + b"\n")


def write_corpora(source_corpus: Path, sizes: Sequence[int], work: Path) -> list[Path]:
    """The corpora alone (``work/corpus-N.jsonl``, hashed vectors in a ``vector`` field), for
    builds of one's own: `index --encoder precomputed --dim 384`, e.g. `bench build`."""
    sources = [d.text for d in read_corpus(source_corpus) if d.text]
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in sorted(sizes):
        paths.append(work / f"corpus-{n}.jsonl")
        write_corpus(sources, n, paths[-1], 384)
    return paths


def one_size(
    sources: Sequence[str],
    queries: Sequence[str],
    n: int,
    work: Path,
    *,
    dim: int = 384,
    threads: int = 2,
    keep: bool = False,
) -> dict[str, Any]:
    """Build a collection of ``n`` documents under ``work`` and time searches on it."""
    corpus = work / f"corpus-{n}.jsonl"
    index = work / f"index-{n}"
    t0 = time.perf_counter()
    write_corpus(sources, n, corpus, dim)
    gen_s = time.perf_counter() - t0
    opts = BuildOptions(
        corpus=corpus,
        index=index,
        fmt="pyserini",
        encoder=EncoderSpec(kind="precomputed", model="precomputed", dim=dim),
        threads=threads,
        overwrite=True,
        progress=False,
    )
    t0 = time.perf_counter()
    manifest = build_index(opts).manifest
    build_s = time.perf_counter() - t0
    rss_after_build = peak_rss_mb()
    corpus.unlink()
    sizes = {half: folder_mb(index / half) for half in ("bm25", "hnsw")}
    qvecs = hash_vectors(queries, dim)
    searcher = open_index(index, load_query_encoder=False)
    rows = {}
    assert searcher.exact is not None
    try:
        t0 = time.perf_counter()
        searcher.exact.max_docs = n  # the exact rows and the recall reference, at every size
        snap = searcher.exact.current()
        assert snap is not None
        copy_s = time.perf_counter() - t0
        for mode, how in RUNS:
            given = None if mode == "bm25" else qvecs
            row = measure(searcher, queries, mode, vectors=given, threads=1, dense_search=how)
            rows[f"{mode} {how}".strip()] = {
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "qps_1_thread": row.qps,
            }
        recall = hnsw_recall(searcher, qvecs, k=10)
    finally:
        searcher.close()
    if not keep:
        import shutil

        shutil.rmtree(index)
    return {
        "documents": n,
        "generate_s": round(gen_s, 1),
        "build_s": round(build_s, 1),
        "build_stages_s": manifest.timings,
        "index_mb": sizes,
        "peak_rss_mb_after_build": rss_after_build,
        "peak_rss_mb_after_search": peak_rss_mb(),
        "exact_copy": {"read_s": round(copy_s, 2), "mb": round(snap.nbytes / 2**20, 1)},
        "hnsw_recall_at_10": recall,
        "search": rows,
    }


# (mode, dense_search): the dense and hybrid rows with each dense search, so the crossover
# between exact and HNSW shows at every size.
RUNS = (
    ("bm25", ""),
    ("dense", "exact"),
    ("dense", "hnsw"),
    ("hybrid", "exact"),
    ("hybrid", "hnsw"),
)


def hnsw_recall(searcher: HybridSearcher, queries: np.ndarray, k: int = 10) -> float:
    """Mean overlap of HNSW's top ``k`` (default efSearch) with the exact top ``k``."""
    found = 0
    for q in queries:
        ways = [
            SearchParams(mode="dense", k=k, dense_search=how, fetch_docs=False)  # type: ignore[arg-type]
            for how in ("exact", "hnsw")
        ]
        exact, hnsw = ({h.docid for h in searcher.search(None, p, vector=q)} for p in ways)
        found += len(exact & hnsw)
    return round(found / (k * len(queries)), 4)


def run(
    source_corpus: Path,
    topics: Sequence[str],
    sizes: Sequence[int],
    work: Path,
    *,
    dim: int = 384,
    threads: int = 2,
    keep: bool = False,
) -> dict[str, Any]:
    """Every size in turn (smallest first), in one process."""
    sources = [d.text for d in read_corpus(source_corpus) if d.text]
    work.mkdir(parents=True, exist_ok=True)
    results = [
        one_size(sources, topics, n, work, dim=dim, threads=threads, keep=keep)
        for n in sorted(sizes)
    ]
    return {
        "source": str(source_corpus),
        "source_passages": len(sources),
        "queries": len(topics),
        "dim": dim,
        "machine": machine(),
        "sizes": results,
    }


def markdown(result: dict[str, Any]) -> str:
    """One line per size: build, sizes, memory, then p50 / p99 per mode and dense search."""
    lines = [
        f"{result['source_passages']:,} real passages repeated with perturbation; "
        f"{result['dim']}-dim hashed vectors; {result['queries']} queries, k=10, one thread; "
        f"{result['machine']['cpus']} × {result['machine']['cpu']}",
        "",
        "| documents | build s | bm25 MB | hnsw MB | peak RSS MB | exact copy MB / read s "
        "| HNSW recall@10 | "
        + " | ".join(f"{m} {h} p50/p99 ms".replace("  ", " ") for m, h in RUNS)
        + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(RUNS),
    ]
    for r in result["sizes"]:
        s = r["search"]
        cells = [
            f"{s[key]['p50_ms']:.2f} / {s[key]['p99_ms']:.2f}"
            for key in (f"{m} {h}".strip() for m, h in RUNS)
        ]
        lines.append(
            f"| {r['documents']:,} | {r['build_s']:,.1f} | {r['index_mb']['bm25']:,.1f} | "
            f"{r['index_mb']['hnsw']:,.1f} | {r['peak_rss_mb_after_search']:,.0f} | "
            f"{r['exact_copy']['mb']:,.1f} / {r['exact_copy']['read_s']:.2f} | "
            f"{r['hnsw_recall_at_10']:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"
