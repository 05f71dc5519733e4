"""Exact dense search on real Lucene indexes: the in-memory copy, Lucene's brute force and the
definition agree; "auto" picks by size; filters and writes are honoured."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from lucene_hybrid.core.manifest import HnswSettings
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.indexing.corpus import JsonlFields
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.search.filters import filter_json, parse_filter
from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import SearchParams
from lucene_hybrid.server.collection import Collection, DocIn

N, DIM = 2000, 48


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return _unit(np.random.default_rng(11).normal(size=(N, DIM)))


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, vectors):
    """2,000 random unit vectors (HNSW's hard case) with a metadata field to filter on."""
    folder = tmp_path_factory.mktemp("exact")
    corpus = folder / "vecs.jsonl"
    with open(corpus, "w") as fh:
        for i, v in enumerate(vectors):
            doc = {"id": f"v{i}", "text": f"doc {i}", "part": i % 5, "vector": v.tolist()}
            fh.write(json.dumps(doc) + "\n")
    build_index(
        BuildOptions(
            corpus=corpus,
            index=folder / "idx",
            fmt="jsonl",
            fields=JsonlFields(vector="vector"),
            encoder=EncoderSpec(kind="precomputed", model="precomputed", dim=DIM),
            hnsw=HnswSettings(M=8, ef_construction=40),  # a sparse graph: HNSW misses some
            progress=False,
        )
    )
    s = open_index(folder / "idx")
    yield s
    s.close()


def _truth(vectors: np.ndarray, q: np.ndarray, k: int, rows=None) -> list[str]:
    rows = np.arange(len(vectors)) if rows is None else rows
    order = sorted(rows, key=lambda i: (-float(vectors[i] @ q), f"v{i}"))
    return [f"v{i}" for i in order[:k]]


def _ids(searcher, q, **params) -> list[str]:
    p = SearchParams(mode="dense", fetch_docs=False, **params)
    return [h.docid for h in searcher.search(None, p, vector=q)]


def test_copy_and_lucene_brute_force_agree_with_the_definition(searcher, vectors):
    queries = _unit(np.random.default_rng(5).normal(size=(20, DIM)))
    snap = searcher.exact.current()
    assert snap is not None and len(snap.ids) == N
    for q in queries:
        truth = _truth(vectors, q, 50)
        copy = searcher._dense(q, SearchParams(mode="dense", k=50, dense_search="exact"))
        lucene = searcher.dense.exact_search(q, 50)
        assert [h.docid for h in copy] == truth
        assert [h.docid for h in lucene] == truth
        assert np.allclose([h.score for h in copy], [h.score for h in lucene], atol=1e-6)


def test_auto_is_exact_when_small_and_hnsw_when_not(searcher, vectors):
    queries = _unit(np.random.default_rng(6).normal(size=(40, DIM)))
    hnsw_recall = exact_recall = 0
    limit = searcher.exact.max_docs
    try:
        for q in queries:
            truth = set(_truth(vectors, q, 10))
            exact_recall += len(truth & set(_ids(searcher, q, k=10)))  # auto, N <= limit
            searcher.exact.max_docs = N - 1  # now the collection is "large"
            auto_large = _ids(searcher, q, k=10)
            assert auto_large == _ids(searcher, q, k=10, dense_search="hnsw")
            hnsw_recall += len(truth & set(auto_large))
            searcher.exact.max_docs = limit
    finally:
        searcher.exact.max_docs = limit
    assert exact_recall == 400
    assert hnsw_recall < 400  # the sparse graph misses some: auto really switched


def test_setting_ef_search_means_hnsw(searcher):
    q = _unit(np.random.default_rng(8).normal(size=(1, DIM)))[0]
    assert _ids(searcher, q, k=10, ef_search=10) == _ids(
        searcher, q, k=10, ef_search=10, dense_search="hnsw"
    )


def test_exact_with_a_filter_searches_only_the_matching_documents(searcher, vectors):
    q = _unit(np.random.default_rng(9).normal(size=(1, DIM)))[0]
    flt = filter_json(parse_filter({"field": "part", "op": "eq", "value": 3}))
    hits = _ids(searcher, q, k=20, dense_search="exact", filter=flt)
    assert hits == _truth(vectors, q, 20, rows=np.arange(3, N, 5))


def test_writes_reach_exact_search(tmp_path):
    """'exact' sees a write at once (Lucene's brute force while the copy is re-read); 'auto'
    sees it no later than the re-read; deletes likewise."""
    coll = Collection.create(
        "w",
        tmp_path / "w",
        encoder_spec=EncoderSpec(kind="precomputed", model="precomputed", dim=8),
    )
    try:
        vecs = _unit(np.random.default_rng(2).normal(size=(30, 8)))
        coll.upsert([DocIn(id=f"d{i}", text="x", vector=v.tolist()) for i, v in enumerate(vecs)])
        q = vecs[7]
        p = SearchParams(mode="dense", k=1, fetch_docs=False)
        assert coll.search(None, p, q)[0].docid == "d7"  # the copy is read here
        coll.upsert([DocIn(id="new", text="x", vector=q.tolist())])  # ties d7: "d7" < "new"
        coll.delete(["d7"])
        exact = SearchParams(mode="dense", k=1, fetch_docs=False, dense_search="exact")
        assert coll.search(None, exact, q)[0].docid == "new"
        assert coll.search(None, p, q)[0].docid == "new"  # from Lucene until the re-read
        deadline = time.monotonic() + 10
        while (snap := coll.searcher.exact.current()) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the copy is re-read in the background
        assert snap is not None and "d7" not in snap.ids and "new" in snap.ids
        assert coll.search(None, p, q)[0].docid == "new"  # now from the fresh copy
    finally:
        coll.close()


def test_docids_with_separators_survive_every_search_path(tmp_path):
    """Hits cross from Java as text; ids with spaces, tabs, Unicode line and paragraph separators
    and non-ASCII letters come back whole from BM25, HNSW, Lucene's exact search, the in-memory
    copy, hybrid fusion and a filter."""
    ids = ["plain", "with space", "tab\there", "line\u2028sep", "para\u2029sep", "naïve\x85x"]
    coll = Collection.create(
        "ids",
        tmp_path / "ids",
        encoder_spec=EncoderSpec(kind="precomputed", model="precomputed", dim=8),
    )
    try:
        vecs = _unit(np.random.default_rng(5).normal(size=(len(ids), 8)))
        docs = [
            DocIn(id=d, text=f"shared words {i}", metadata={"n": i}, vector=v.tolist())
            for i, (d, v) in enumerate(zip(ids, vecs, strict=True))
        ]
        coll.upsert(docs)
        k = len(ids)
        for params in [
            SearchParams(mode="bm25", k=k, fetch_docs=False),
            SearchParams(mode="dense", k=k, fetch_docs=False, dense_search="hnsw"),
            SearchParams(mode="dense", k=k, fetch_docs=False, dense_search="exact"),
            SearchParams(mode="dense", k=k, fetch_docs=False),  # the copy, once read
            SearchParams(mode="hybrid", k=k, fetch_docs=False),
        ]:
            hits = coll.search("shared words", params, vecs[3])
            assert sorted(h.docid for h in hits) == sorted(ids), params
        flt = filter_json(parse_filter({"field": "n", "op": "gte", "value": 3}))
        assert coll.searcher.bm25.filter_ids(flt, 10) == ids[3:]
        hit = coll.search(None, SearchParams(mode="dense", k=1, fetch_docs=False), vecs[3])[0]
        assert hit.docid == "line\u2028sep"
    finally:
        coll.close()
