"""Exact dense search over an in-memory copy: ranking, Lucene's score formulas, freshness."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lucene_hybrid.search.exact import ExactVectors, VectorSnapshot, lucene_scores, top_k


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _snapshot(vectors: np.ndarray, similarity: str = "DOT_PRODUCT", version: int = 1):
    return VectorSnapshot(version, [f"d{i:04d}" for i in range(len(vectors))], vectors, similarity)


@pytest.mark.parametrize("k", [1, 10, 100, 500, 800])
def test_top_k_is_the_brute_force_ranking(k):
    rng = np.random.default_rng(k)
    vecs = _unit(rng.normal(size=(500, 32)))
    q = _unit(rng.normal(size=(1, 32)))[0]
    hits = top_k(_snapshot(vecs), q, k)
    dots = [(float(v @ q), f"d{i:04d}") for i, v in enumerate(vecs)]
    expected = sorted(dots, key=lambda x: -x[0])[: min(k, 500)]
    assert [h.docid for h in hits] == [d for _, d in expected]
    # Lucene's dot-product score, (1 + dot) / 2, so exact and HNSW hits compare
    assert np.allclose([h.score for h in hits], [(1 + s) / 2 for s, _ in expected], atol=1e-6)


def test_ties_keep_id_order_and_survive_the_cut():
    """Identical vectors tie: they come in id order, and a tie at rank k is cut by id, not
    dropped at random by the partition."""
    rng = np.random.default_rng(1)
    base = _unit(rng.normal(size=(1, 16)))[0]
    vecs = _unit(rng.normal(size=(50, 16)))
    vecs[[40, 3, 27, 11]] = base  # four exact copies of the query's best match
    snap = VectorSnapshot(1, [f"z{49 - i:02d}" for i in range(50)], vecs, "DOT_PRODUCT")
    hits = top_k(snap, base, 3)
    assert [h.docid for h in hits] == sorted(f"z{49 - i:02d}" for i in (40, 3, 27, 11))[:3]
    assert len({h.score for h in hits}) == 1


def test_other_similarities_follow_lucene():
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(20, 8)).astype(np.float32)
    q = rng.normal(size=8).astype(np.float32)
    euclid = lucene_scores(_snapshot(vecs, "EUCLIDEAN"), q)
    assert np.allclose(euclid, 1 / (1 + ((vecs - q) ** 2).sum(axis=1)), rtol=1e-5)
    mip = lucene_scores(_snapshot(vecs, "MAXIMUM_INNER_PRODUCT"), q)
    dots = vecs @ q
    assert np.allclose(mip, np.where(dots < 0, 1 / (1 - dots), dots + 1), rtol=1e-5)
    cosine = lucene_scores(_snapshot(vecs, "COSINE"), q)
    cos = dots / np.linalg.norm(vecs, axis=1) / np.linalg.norm(q)
    assert np.allclose(cosine, (1 + cos) / 2, atol=1e-6)


def test_empty_copy_and_k_zero():
    snap = VectorSnapshot(1, [], np.zeros((0, 4), np.float32), "DOT_PRODUCT")
    assert top_k(snap, np.ones(4, np.float32), 10) == []


class _Index:
    """A stand-in for a Lucene half: a version that writes bump, and vectors."""

    def __init__(self, n: int):
        self.current_version = 1
        self.vectors = _unit(np.random.default_rng(0).normal(size=(n, 4)))
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()

    @property
    def num_docs(self) -> int:
        return len(self.vectors)

    def version(self) -> int:
        return self.current_version

    def snapshot(self) -> VectorSnapshot:
        self.gate.wait(5)
        self.reads += 1
        return _snapshot(self.vectors.copy(), version=self.current_version)


def _exact(index: _Index, max_docs: int = 100) -> ExactVectors:
    return ExactVectors(index, max_docs)


def test_first_use_reads_the_copy_and_reuses_it():
    index = _Index(10)
    exact = _exact(index)
    first = exact.current()
    assert first is not None and first.version == 1
    assert exact.current() is first and index.reads == 1


def test_a_write_is_never_answered_from_the_old_copy():
    index = _Index(10)
    exact = _exact(index)
    assert exact.current() is not None
    index.gate.clear()  # hold the re-read until checked
    index.current_version = 2
    index.vectors = np.vstack([index.vectors, index.vectors[:1]])
    assert exact.current() is None  # stale: the caller searches Lucene meanwhile
    assert exact.current() is None  # and only one re-read is started
    index.gate.set()
    deadline = time.monotonic() + 5
    while (snap := exact.current()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert snap is not None and snap.version == 2 and len(snap.ids) == 11
    assert index.reads == 2


def test_a_copy_is_dropped_once_the_collection_outgrows_the_limit():
    index = _Index(10)
    exact = _exact(index, max_docs=10)
    assert exact.current() is not None
    index.current_version = 2
    index.vectors = np.vstack([index.vectors, index.vectors])
    assert exact.current() is None and exact._snapshot is None  # the memory goes too


def test_collections_over_the_limit_are_never_copied():
    index = _Index(150)
    assert _exact(index, max_docs=100).current() is None
    assert _exact(index, max_docs=0).current() is None
    assert index.reads == 0
    assert _exact(index, max_docs=150).current() is not None
