"""Exact dense search for small collections: brute force over an in-memory copy of the vectors.

HNSW pays off only past tens of thousands of vectors: below that, one matrix-vector product
over every vector (BLAS) is faster than walking the graph, and exact. ``ExactVectors`` keeps a
copy of a dense index's live vectors, read from Lucene in one crossing, and knows the reader
version it was read at, so a search never uses a copy older than the index: after a write the
copy is rebuilt in the background and, until it is, searches go to Lucene (see
``HybridSearcher``). Scores are Lucene's, so exact and HNSW hits mix and compare.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import threadpoolctl

from lucene_hybrid.search.types import Ranked

log = logging.getLogger(__name__)

# Lucene's VectorSimilarityFunction, by ordinal.
SIMILARITIES = ("EUCLIDEAN", "DOT_PRODUCT", "COSINE", "MAXIMUM_INNER_PRODUCT")

# Collections up to this many vectors are searched exactly by default ("auto"). Measured on
# 2 vCPUs (384 dims, one thread per product; docs/benchmarks.md, "Exact or HNSW"): dense
# k=10 p50 exact vs HNSW (efSearch 60) 0.45 vs 0.78 ms on SciFact (5,183 real vectors) and
# 6.45 vs 1.22 on the MS MARCO pool (30,005); on hashed vectors 0.82 vs 0.79 at 10k (hybrid
# 1.50 vs 1.97), 1.38 vs 0.66 at 20k, 3.40 vs 0.69 at 50k: the product is bound by memory
# traffic, HNSW grows with log n. At 10k the two cost about the same and exact has recall 1
# (HNSW's recall@10 was 0.91 on those vectors).
EXACT_MAX_DOCS = 10_000


@dataclass(frozen=True)
class VectorSnapshot:
    """Every live document's id and vector, as one reader version saw them."""

    version: int
    ids: list[str]
    matrix: np.ndarray  # (len(ids), dim) float32, row i is ids[i]'s vector
    similarity: str  # a name from SIMILARITIES
    id_rank: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.similarity == "COSINE":  # Lucene scores cosine on the vectors as stored
            norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
            object.__setattr__(self, "matrix", self.matrix / np.where(norms == 0, 1, norms))
        # Each row's position in id order: ties sort by id without comparing strings per search.
        id_rank = np.empty(len(self.ids), dtype=np.int64)
        id_rank[np.argsort(np.asarray(self.ids, dtype=object), kind="stable")] = np.arange(
            len(self.ids)
        )
        object.__setattr__(self, "id_rank", id_rank)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes)


def lucene_scores(snapshot: VectorSnapshot, query: np.ndarray) -> np.ndarray:
    """Every document's score for ``query``, by Lucene's formula for the field's similarity."""
    q = np.ascontiguousarray(query, dtype=np.float32)
    m = snapshot.matrix
    sim = snapshot.similarity
    if sim == "EUCLIDEAN":
        d = m - q
        return np.float32(1) / (np.float32(1) + np.einsum("ij,ij->i", d, d))
    if sim == "COSINE":
        norm = np.linalg.norm(q)
        q = q / (norm if norm else np.float32(1))
    # einsum, not m @ q: each row's dot product is summed in one fixed order whatever the
    # matrix's size, so a document scores the same, to the last bit, in one index and in a shard
    # of it (a BLAS product's last bits depend on the row's place in its block: 2 of 6,667 rows
    # differed). As fast on one thread: 2.1 against 2.4 ms for 20,000 x 384.
    dot = np.einsum("ij,j->i", m, q)
    if sim == "MAXIMUM_INNER_PRODUCT":
        return np.where(dot < 0, 1 / (1 - dot), dot + 1).astype(np.float32)
    return np.maximum((np.float32(1) + dot) / np.float32(2), np.float32(0))


def top_k(snapshot: VectorSnapshot, query: np.ndarray, k: int) -> Ranked:
    """The exact top ``k``, best first; equal scores in id order, as Lucene sorts them."""
    n = len(snapshot.ids)
    if n == 0 or k <= 0:
        return Ranked([], [])
    scores = lucene_scores(snapshot, query)
    if k < n:
        kth = np.partition(scores, n - k)[n - k]  # the k-th best score
        candidates = np.flatnonzero(scores >= kth)  # ties at the cut stay in
    else:
        candidates = np.arange(n)
    best = scores[candidates]
    ranked = candidates[np.lexsort((snapshot.id_rank[candidates], -best))][:k]
    ids = snapshot.ids
    return Ranked([ids[i] for i in ranked.tolist()], scores[ranked].tolist())


@functools.cache
def _one_blas_thread() -> None:
    """numpy's BLAS on one thread, process-wide: concurrent searches each take a core.

    Measured: OpenBLAS's two threads per product halved one lone search's matrix product
    (0.33 -> 0.18 ms on SciFact) but at four concurrent searches, with torch's OpenMP threads
    beside them, dense p50 went from ~1 to 16 ms.
    """
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")


class VectorSource(Protocol):
    """Where the copy comes from: a dense index (``lucene_search.DenseSearcher``)."""

    @property
    def num_docs(self) -> int: ...  # live documents now (cheap)

    def version(self) -> int: ...  # the reader version now (cheap)

    def snapshot(self) -> VectorSnapshot: ...  # every live vector (one crossing)


class ExactVectors:
    """A copy of one dense index's vectors, kept at the index's current version.

    Args:
        source: The dense index.
        max_docs: Collections larger than this are never copied (0: never).
    """

    def __init__(self, source: VectorSource, max_docs: int = EXACT_MAX_DOCS):
        self._source = source
        self.max_docs = max_docs
        self._snapshot: VectorSnapshot | None = None
        _one_blas_thread()
        self._lock = threading.Lock()  # one reader of the whole index at a time
        self._state_lock = threading.Lock()
        self._rebuilding = False

    def current(self) -> VectorSnapshot | None:
        """The copy, when it is as new as the index and the collection is small enough.

        The first call reads the copy (so a fresh process answers exactly, every time); a
        later call that finds the index changed starts a background re-read and returns None
        until it is done.
        """
        snap = self._snapshot
        fits = snap is not None and len(snap.ids) <= self.max_docs
        if fits and snap is not None and snap.version == self._source.version():
            return snap
        if self.max_docs <= 0 or self._source.num_docs > self.max_docs:
            self._snapshot = None  # grown past the limit (or turned off): free the copy
            return None
        if snap is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self._read()
            return self.current() if self._snapshot is not None else None
        self._rebuild_in_background()
        return None

    def _read(self) -> VectorSnapshot | None:
        try:
            snap = self._source.snapshot()
        except Exception as exc:  # e.g. the JVM heap cannot hold the copy: Lucene serves
            log.warning("no in-memory copy for exact search (%s); HNSW serves instead", exc)
            self.max_docs = 0
            return None
        if len(snap.ids) > self.max_docs:  # grew between the count and the read
            return None
        return snap

    def _rebuild_in_background(self) -> None:
        with self._state_lock:  # never waits for a read in progress
            if self._rebuilding:
                return
            self._rebuilding = True

        def rebuild() -> None:
            try:
                with self._lock:
                    self._snapshot = self._read()
            finally:
                with self._state_lock:
                    self._rebuilding = False

        threading.Thread(target=rebuild, name="exact-vectors", daemon=True).start()
