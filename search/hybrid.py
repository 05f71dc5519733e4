"""The hybrid searcher: holds a BM25 and a dense searcher and an encoder, and fuses their lists."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

import numpy as np

from lucene_hybrid.core.errors import EncoderError
from lucene_hybrid.core.manifest import (
    BM25_DIR,
    HNSW_DIR,
    MANIFEST,
    Manifest,
    read_manifest,
)
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec, check_vectors, load_encoder
from lucene_hybrid.search import exact, fusion
from lucene_hybrid.search.lucene_search import Bm25Searcher, DenseSearcher, open_readonly
from lucene_hybrid.search.merge import TermStats
from lucene_hybrid.search.types import DenseSearch, Hit, Ranked, SearchParamError, SearchParams

log = logging.getLogger(__name__)

# HNSW candidate list per search (never below the hits asked for). Measured on SciFact with
# all-MiniLM-L6-v2, k=10: ef 40 / 60 / 100 gave recall@10 against exact search 0.982 / 0.989 /
# 0.996, nDCG@10 0.6391 / 0.6451 / 0.6451, p50 0.96 / 1.14 / 1.49 ms (docs/benchmarks.md).
DEFAULT_EF_SEARCH = 60
QUERY_CACHE_SIZE = 1024  # query embeddings kept (384 floats each: ~1.5 MB)

# The dense half of a hybrid search runs here while the calling thread runs BM25: both are
# Java calls that release the GIL, so one search costs the slower half, not the sum.
_DENSE_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dense")


class Searcher(Protocol):
    """What the CLI and the API need from a searcher."""

    def search(
        self,
        query: str | None,
        params: SearchParams,
        vector: Sequence[float] | np.ndarray | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]: ...

    def batch_search(
        self, queries: Sequence[str], params: SearchParams, threads: int = 1
    ) -> list[list[Hit]]: ...

    def close(self) -> None: ...


class QueryEmbeddings:
    """Recent query embeddings by text: the same text (a retry, the playground's three columns,
    a paginating client) is encoded once. Encoders are deterministic."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], size: int = QUERY_CACHE_SIZE):
        self.encode = encode
        self.size = size  # 0 turns the cache off
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, query: str) -> np.ndarray:
        """The query's embedding, from the cache or encoded now (and kept)."""
        if not self.size:
            return self.encode([query])[0]
        with self._lock:
            hit = self._cache.get(query)
            if hit is not None:
                self._cache.move_to_end(query)
                return hit
        vec = self.encode([query])[0]
        vec.flags.writeable = False  # shared between requests
        with self._lock:
            self._cache[query] = vec
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vec

    def vector(
        self,
        query: str | None,
        vector: Sequence[float] | np.ndarray | None,
        params: SearchParams,
        dim: int,
        normalize: bool,
        timings: dict[str, float],
    ) -> np.ndarray:
        """A search's query vector: the caller's own (checked, and normalized where the index's
        vectors are), or else the query text's embedding (its time in ``encode_ms``).

        Raises:
            EncoderError: a vector of the wrong size or not finite, or no encoder for text.
            SearchParamError: neither a vector nor a text query.
        """
        if vector is not None:
            return check_vectors(np.asarray([vector]), dim, normalize)[0]
        if not query or not query.strip():
            raise SearchParamError(f"mode {params.mode!r} needs a text query or a vector")
        t0 = time.perf_counter()
        qvec = self.get(query)
        timings["encode_ms"] = (time.perf_counter() - t0) * 1000
        return qvec


class HybridSearcher:
    """BM25, dense and hybrid search over one lucene-hybrid index directory."""

    def __init__(
        self,
        manifest: Manifest,
        bm25: Bm25Searcher,
        dense: DenseSearcher | None,
        encoder: Encoder | None,
        *,
        owns_handles: bool = True,
        snapshot: Callable[[], AbstractContextManager[None]] = nullcontext,
    ):
        self.manifest = manifest
        self.bm25 = bm25
        self.dense = dense
        self.encoder = encoder
        self.owns_handles = owns_handles
        self.snapshot = snapshot  # held around the Lucene reads of one search
        # Hybrid: dense in a pool thread while BM25 runs here, or both in this thread. None
        # (adaptive) splits a search only while two cores per search in flight (this one
        # included) are free: an idle server answers in the slower half's time instead of the
        # sum, a busy one spends no core on thread hand-offs. On 2 cores: split while one
        # search runs, not under load (always splitting cost 16-40 % of QPS at 4 threads;
        # `bench search` rows "halves always ..."), nor when the dense half is the in-memory
        # exact one (~0.4 ms on SciFact: about what the hand-off costs). True / False force
        # either way. Not while a query encodes either: BM25 beside the encoder (which takes
        # both cores) slowed the encoder by more than BM25 took (hybrid with text +0.6 to
        # +1.4 ms against all in sequence, three interleaved runs).
        self.parallel_retrieval: bool | None = None
        self._cores = os.cpu_count() or 1
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self.queries = QueryEmbeddings(self.query_vectors)
        # "auto" dense search is exact (brute force over a copy of the vectors) for collections
        # of up to exact.max_docs vectors (0: never), HNSW above (search/exact.py).
        self.exact = exact.ExactVectors(dense) if dense is not None else None

    @property
    def query_cache_size(self) -> int:
        """Query embeddings kept (0: the cache is off)."""
        return self.queries.size

    @query_cache_size.setter
    def query_cache_size(self, size: int) -> None:
        self.queries.size = size

    def clear_query_cache(self) -> None:
        """Forget every cached query embedding (a benchmark that times the encoder calls it)."""
        self.queries.clear()

    def reopened(self, bm25: Bm25Searcher, dense: DenseSearcher) -> None:
        """Search new handles on the same indexes (a rollback closed the old ones): the halves
        and the in-memory exact copy, which read the dense half's old handle."""
        max_docs = self.exact.max_docs if self.exact is not None else exact.EXACT_MAX_DOCS
        self.bm25, self.dense = bm25, dense
        self.exact = exact.ExactVectors(dense, max_docs)

    # -- retrieval ---------------------------------------------------------------------------

    def _bm25(self, query: str | None, params: SearchParams, stats: TermStats | None) -> Ranked:
        if not query or not query.strip():
            raise SearchParamError(f"mode {params.mode!r} needs a non-empty text query")
        k1 = self.manifest.bm25.k1 if params.k1 is None else params.k1
        b = self.manifest.bm25.b if params.b is None else params.b
        depth = params.top if params.mode == "bm25" else params.candidate_depth
        if stats is not None:
            return self.bm25.search_global(query, depth, k1, b, params.filter, stats)
        return self.bm25.search(query, depth, k1, b, params.filter)

    def query_vectors(self, queries: Sequence[str]) -> np.ndarray:
        """Embed queries with the index's encoder.

        Raises:
            EncoderError: when the index has no query encoder (precomputed vectors).
        """
        if self.encoder is None:
            raise EncoderError(
                "this index has no query encoder loaded; pass a query vector instead"
            )
        return self.encoder.encode_queries(list(queries))

    def _query_vector(
        self,
        query: str | None,
        vector: Sequence[float] | np.ndarray | None,
        params: SearchParams,
        timings: dict[str, float],
    ) -> np.ndarray:
        if self.dense is None:
            raise SearchParamError(
                f"index '{self.manifest.name}' is a BM25-only Pyserini index: use mode bm25"
            )
        m = self.manifest
        return self.queries.vector(query, vector, params, m.dim, m.hnsw.vectors_normalized, timings)

    def _split_halves(self, exact_copy: bool = False) -> bool:
        """Whether to run BM25 and the dense half on two threads."""
        if self.parallel_retrieval is not None:
            return self.parallel_retrieval
        if exact_copy:  # the in-memory dense half is about as fast as the hand-off
            return False
        with self._in_flight_lock:  # a split search keeps two cores busy: it needs them free
            return 2 * self._in_flight <= self._cores

    def _timed_dense(
        self, qvec: np.ndarray, params: SearchParams, snap: exact.VectorSnapshot | None
    ) -> tuple[Ranked, float]:
        t0 = time.perf_counter()
        hits = self._dense_from(qvec, params, snap)
        return hits, (time.perf_counter() - t0) * 1000

    def _dense_how(self, params: SearchParams) -> DenseSearch:
        if params.dense_search == "auto" and params.ef_search is not None:
            return "hnsw"  # efSearch only means something to the graph
        return params.dense_search

    def _exact_copy(self, params: SearchParams) -> exact.VectorSnapshot | None:
        """The in-memory copy to search exactly, when this search may and it is current."""
        if self.exact is None or params.filter is not None or self._dense_how(params) == "hnsw":
            return None
        return self.exact.current()

    def _dense(self, qvec: np.ndarray, params: SearchParams) -> Ranked:
        return self._dense_from(qvec, params, self._exact_copy(params))

    def _dense_from(
        self, qvec: np.ndarray, params: SearchParams, snap: exact.VectorSnapshot | None
    ) -> Ranked:
        """Dense candidates; ``snap`` is this search's ``_exact_copy`` (looked up once)."""
        assert self.dense is not None  # _query_vector checked
        depth = params.top if params.mode == "dense" else params.candidate_depth
        if snap is not None:
            return exact.top_k(snap, qvec, depth)
        if self._dense_how(params) == "exact":  # filtered, too large to copy, or being re-read
            return self.dense.exact_search(qvec, depth, params.filter)
        ef = params.ef_search or max(DEFAULT_EF_SEARCH, depth)
        return self.dense.search(qvec, depth, ef, params.filter)

    def search(
        self,
        query: str | None,
        params: SearchParams,
        vector: Sequence[float] | np.ndarray | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Search in ``params.mode``; hybrid fuses BM25 and dense candidate lists.

        Args:
            query: Query text (needed for bm25 and hybrid; dense may use ``vector`` instead).
            params: Per-request parameters.
            vector: A query vector to use instead of encoding ``query`` (dense side).
            timings: When given, receives per-stage milliseconds (encode, bm25, dense,
                fusion, fetch).

        Returns:
            Up to ``params.k`` hits, best first, from rank ``params.offset + 1`` on, with
            provenance and (optionally) stored text.
        """
        t = timings if timings is not None else {}
        with self._in_flight_lock:  # counted while encoding too: the encoder takes cores
            self._in_flight += 1
        try:
            qvec = None
            if params.mode in ("dense", "hybrid"):  # encode before taking the snapshot
                qvec = self._query_vector(query, vector, params, t)
            with self.snapshot():
                return self._search(query, qvec, params, t)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _search(
        self,
        query: str | None,
        qvec: np.ndarray | None,
        params: SearchParams,
        t: dict[str, float],
    ) -> list[Hit]:
        lists = self.retrieve(query, qvec, params, t)
        t0 = time.perf_counter()
        fused, weights = fuse(lists, params)
        t["fusion_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        ids = [f.docid for f in fused]
        docs = self.bm25.fetch(ids, params.budget) if params.fetch_docs else {}
        t["fetch_ms"] = (time.perf_counter() - t0) * 1000
        return to_hits(fused, docs, weights, params)

    def retrieve(
        self,
        query: str | None,
        qvec: np.ndarray | None,
        params: SearchParams,
        t: dict[str, float],
        bm25_stats: TermStats | None = None,
    ) -> dict[str, Ranked]:
        """Each retriever's candidates for ``params.mode``, before fusion: "bm25" (from the
        query text) and "dense" (from ``qvec``), ``params.top`` long in their own mode and
        ``params.candidate_depth`` in hybrid. With ``bm25_stats`` (a whole collection's, where
        this index is one shard of it) BM25 scores with them and its scores stay raw."""
        lists: dict[str, Ranked] = {}
        pending = None
        snap = self._exact_copy(params) if qvec is not None else None
        if qvec is not None and params.mode == "hybrid" and self._split_halves(snap is not None):
            pending = _DENSE_POOL.submit(self._timed_dense, qvec, params, snap)
        if params.mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            try:
                lists["bm25"] = self._bm25(query, params, bm25_stats)
            except BaseException:
                if pending is not None and not pending.cancel():
                    wait([pending])  # leave no read running past the snapshot
                raise
            t["bm25_ms"] = (time.perf_counter() - t0) * 1000
        if pending is not None:
            lists["dense"], t["dense_ms"] = pending.result()
        elif qvec is not None:
            lists["dense"], t["dense_ms"] = self._timed_dense(qvec, params, snap)
        return lists

    def batch_search(
        self, queries: Sequence[str], params: SearchParams, threads: int = 1
    ) -> list[list[Hit]]:
        """Search many queries; query embeddings are computed in batches, searches in threads."""
        vectors: list[Sequence[float] | None] = [None] * len(queries)
        if params.mode != "bm25" and self.encoder is not None:
            vectors = list(self.query_vectors(queries))
        if threads <= 1:
            return [self.search(q, params, v) for q, v in zip(queries, vectors, strict=True)]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(
                pool.map(
                    lambda qv: self.search(qv[0], params, qv[1]), zip(queries, vectors, strict=True)
                )
            )

    def close(self) -> None:
        """Close both Lucene readers (unless a writer owns them)."""
        if self.owns_handles:
            self.bm25.close()
            if self.dense is not None:
                self.dense.close()


def fuse(
    lists: dict[str, Ranked], params: SearchParams
) -> tuple[list[fusion.Fused], dict[str, float]]:
    """One ranking from the retrievers' lists: fused in hybrid mode (RRF or normalized linear),
    the one list as it is otherwise; ranks ``params.offset + 1`` to ``params.top``. Returns the
    fused entries and each list's weight (for ``explain``). ``lists`` is left as it is."""
    weights: dict[str, float] = {}
    if params.mode == "hybrid":
        if params.fusion == "rrf":
            w_bm25, w_dense = params.weights
            weights = {"bm25": w_bm25, "dense": w_dense}
            fused = fusion.rrf(lists, k=params.rrf_k, weights=weights, limit=params.top)
        else:
            weights = {"bm25": 1.0 - params.alpha, "dense": params.alpha}
            lists = {**lists, "bm25": fusion.untie_bm25(lists["bm25"])}
            fused = fusion.linear(
                lists, weights, normalization=params.normalization, limit=params.top
            )
    else:
        (only,) = lists.values()
        (name,) = lists.keys()
        fused = [
            fusion.Fused(h.docid, h.score, {name: (rank, h.score)})
            for rank, h in enumerate(only, start=1)
        ]
    return fused[params.offset : params.top], weights


def to_hits(
    fused: Sequence[fusion.Fused],
    docs: dict[str, tuple[str, dict]],
    weights: dict[str, float],
    params: SearchParams,
) -> list[Hit]:
    """The hits of a fused ranking: provenance, stored text and metadata (from ``docs``, by
    id; None where absent), and each score's explanation when ``params.explain``."""
    hits = []
    for rank, f in enumerate(fused, start=params.offset + 1):
        b = f.sources.get("bm25")
        d = f.sources.get("dense")
        text, metadata = docs.get(f.docid, (None, None))
        hits.append(
            Hit(
                docid=f.docid,
                score=f.score,
                rank=rank,
                bm25_rank=b[0] if b else None,
                bm25_score=b[1] if b else None,
                dense_rank=d[0] if d else None,
                dense_score=d[1] if d else None,
                text=text,
                metadata=metadata,
                explain=_explain(f, weights, params) if params.explain else None,
            )
        )
    return hits


def _explain(f: fusion.Fused, weights: dict[str, float], params: SearchParams) -> dict:
    if params.mode != "hybrid":  # one list: the score is its raw score
        ((name, (rank, raw)),) = f.sources.items()
        lists = {name: {"rank": rank, "raw_score": raw, "weight": 1.0}}
        return {"fusion": None, "lists": lists, "formula": f"{name} score = {raw:.6f}"}
    return fusion.explain(
        f, weights, params.fusion, rrf_k=params.rrf_k, normalization=params.normalization
    )


def _open_pyserini_index(index_dir: Path) -> HybridSearcher:
    """A plain inverted index built by Pyserini/Anserini (no manifest): BM25 search only."""
    manifest = Manifest(
        name=index_dir.name,
        created_at="unknown",
        encoder=EncoderSpec(kind="precomputed", model="none", dim=1),
        dim=0,
        corpus={"source": "pyserini (BM25 only)"},
    )
    bm25 = Bm25Searcher(open_readonly(index_dir), manifest.bm25.field)
    return HybridSearcher(manifest, bm25, None, None)


def open_index(
    index_dir: str | Path,
    encoder_spec: EncoderSpec | None = None,
    *,
    encoder: Encoder | None = None,
    load_query_encoder: bool = True,
) -> HybridSearcher:
    """Open an index directory for search, checking its manifest against the query encoder.

    Args:
        index_dir: A directory built by ``lucene-hybrid index``, or a plain Lucene inverted
            index built by Pyserini/Anserini (searchable in bm25 mode only).
        encoder_spec: The query encoder to use; None means the one the manifest names.
        encoder: An already loaded encoder (checked against the manifest like a spec).
        load_query_encoder: False to open without a model (bm25 or caller-supplied vectors).

    Raises:
        ManifestError: when the directory is not an index or the encoder does not match.
    """
    index_dir = Path(index_dir)
    if not (index_dir / MANIFEST).exists() and any(index_dir.glob("segments_*")):
        return _open_pyserini_index(index_dir)
    manifest = read_manifest(index_dir)
    if encoder_spec is not None:
        manifest.check_encoder(encoder_spec)  # fail before loading any model
    bm25 = Bm25Searcher(open_readonly(index_dir / BM25_DIR), manifest.bm25.field)
    dense = DenseSearcher(open_readonly(index_dir / HNSW_DIR), manifest.dim, manifest.hnsw)
    if encoder is None and load_query_encoder:
        spec = encoder_spec or manifest.encoder
        if spec.kind != "precomputed":
            encoder = load_encoder(spec)
    if encoder is not None:
        manifest.check_encoder(encoder.spec, encoder.dim)
    return HybridSearcher(manifest, bm25, dense, encoder)
