"""`reindex`: re-encode an index from its own stored documents and switch in one step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lucene_hybrid.core.errors import IndexBuildError
from lucene_hybrid.core.manifest import WAL_FILE, read_manifest
from lucene_hybrid.indexing.encoders import EncoderSpec, load_encoder
from lucene_hybrid.indexing.reindex import reindex, requantize
from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import SearchParams

RETRIEVAL = {"field": "topic", "op": "eq", "value": "retrieval"}
CLS = EncoderSpec(pooling="cls")  # same weights, another pooling: other vectors, same dims


@pytest.fixture(scope="module")
def cls_encoder():
    return load_encoder(CLS)


@pytest.fixture
def index(demo_index, tmp_path) -> Path:
    copy = tmp_path / "demo"
    shutil.copytree(demo_index, copy)
    return copy


def _corpus(demo_corpus) -> dict[str, dict]:
    docs = {}
    for line in demo_corpus.read_text().splitlines():
        d = json.loads(line)
        docs[d["_id"]] = d
    return docs


def _files(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_reindex_switches_vectors_and_keeps_text_bm25_and_metadata(
    index, demo_corpus, cls_encoder, minilm
):
    before = open_index(index, encoder=minilm)
    bm25_params = SearchParams(mode="bm25", k=10)
    bm25_before = [(h.docid, h.score) for h in before.search("ranking documents", bm25_params)]
    old_vec = before.dense.vector("tides")
    before.close()

    manifest = reindex(index, CLS, encoder=cls_encoder, threads=2, progress=False)

    assert manifest.encoder == CLS
    assert read_manifest(index).encoder == CLS
    assert manifest.counts["dense"] == 30
    assert manifest.reindexed[0]["from_encoder"] == {}  # the default spec: no non-defaults
    assert not list(index.parent.glob(".demo.*")), "nothing left beside the index"

    after = open_index(index)  # opens with the manifest's (new) encoder
    try:
        assert after.encoder.spec == CLS
        docs = _corpus(demo_corpus)
        for docid in ("tides", "bm25", "everest"):
            d = docs[docid]
            expected = cls_encoder.encode_documents([f"{d['title']} {d['text']}"])[0]
            np.testing.assert_allclose(after.dense.vector(docid), expected, atol=1e-5)
        assert not np.allclose(after.dense.vector("tides"), old_vec, atol=1e-3)
        assert [(h.docid, h.score) for h in after.search("ranking documents", bm25_params)] == (
            bm25_before
        )
        hits = after.search(
            "anything at all",
            SearchParams(mode="dense", k=30, filter=json.dumps(RETRIEVAL)),
        )
        expected_ids = {i for i, d in docs.items() if d["metadata"].get("topic") == "retrieval"}
        assert {h.docid for h in hits} == expected_ids
        assert all(h.metadata["topic"] == "retrieval" for h in hits)
        top = after.search("which star pulls the sea up and down", SearchParams(mode="hybrid", k=1))
        assert top[0].docid == "tides"
    finally:
        after.close()


def test_a_searcher_open_during_the_switch_keeps_answering(index, cls_encoder, minilm):
    old = open_index(index, encoder=minilm)
    try:
        reindex(index, CLS, encoder=cls_encoder, threads=2, progress=False)
        hits = old.search("moon and ocean", SearchParams(mode="dense", k=3))
        assert hits and hits[0].docid == "tides"
    finally:
        old.close()


class _FailingEncoder:
    """The new encoder breaks part-way (out of memory, a bad model file...)."""

    def __init__(self, inner):
        self.inner = inner
        self.spec = inner.spec

    @property
    def name(self):
        return self.inner.name

    @property
    def dim(self):
        return self.inner.dim

    def encode_documents(self, texts):
        raise RuntimeError("simulated failure while encoding")

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def test_failed_reindex_leaves_the_old_index_untouched(index, cls_encoder, minilm):
    files = _files(index)
    with pytest.raises(RuntimeError, match="simulated"):
        reindex(index, CLS, encoder=_FailingEncoder(cls_encoder), threads=2, progress=False)
    assert _files(index) == files
    assert not list(index.parent.glob(".demo.*"))
    searcher = open_index(index, encoder=minilm)
    try:
        assert (
            searcher.search("moon and ocean", SearchParams(mode="dense", k=1))[0].docid == "tides"
        )
    finally:
        searcher.close()


def test_reindex_refuses_an_index_a_server_holds_or_with_unreplayed_writes(
    index, cls_encoder, minilm
):
    from lucene_hybrid.server.collection import Collection

    col = Collection("demo", index, encoder=minilm)
    try:
        with pytest.raises(IndexBuildError, match="server"):
            reindex(index, CLS, encoder=cls_encoder, threads=2, progress=False)
    finally:
        col.close()
    assert read_manifest(index).encoder == EncoderSpec()

    (index / WAL_FILE).write_text('{"op": "delete", "ids": ["tides"]}\n')
    with pytest.raises(IndexBuildError, match="log"):
        reindex(index, CLS, encoder=cls_encoder, threads=2, progress=False)
    assert read_manifest(index).encoder == EncoderSpec()


def test_requantize_rebuilds_the_vectors_format_from_stored_vectors(index, demo_corpus, minilm):
    """`reindex --quantization`: the HNSW half is rebuilt as int4 from the vectors the index
    holds (no encoder runs): the same vectors come back, BM25 and metadata filters are
    unchanged, dense scores stay exact, and the manifest says int4; a bad value changes nothing."""
    before = open_index(index, encoder=minilm)
    bm25_params = SearchParams(mode="bm25", k=10)
    bm25_before = [(h.docid, h.score) for h in before.search("ranking documents", bm25_params)]
    dense_params = SearchParams(mode="dense", k=5, fetch_docs=False)
    dense_before = [(h.docid, h.score) for h in before.search("moon and ocean", dense_params)]
    vectors = {d: before.dense.vector(d) for d in ("tides", "bm25", "everest")}
    before.close()

    with pytest.raises(ValueError, match="oversample"):
        requantize(index, "int4", oversample=0.5, threads=2, progress=False)
    assert read_manifest(index).hnsw.quantization == "none"

    manifest = requantize(index, "int4", oversample=4, threads=2, progress=False)

    assert read_manifest(index).hnsw.quantization == "int4" == manifest.hnsw.quantization
    assert manifest.hnsw.oversample == 4 and manifest.encoder == EncoderSpec()
    assert not list(index.parent.glob(".demo.*")), "nothing left beside the index"
    after = open_index(index, encoder=minilm)
    try:
        for docid, vec in vectors.items():
            np.testing.assert_array_equal(after.dense.vector(docid), vec)
        assert [(h.docid, h.score) for h in after.search("ranking documents", bm25_params)] == (
            bm25_before
        )
        dense_after = [(h.docid, h.score) for h in after.search("moon and ocean", dense_params)]
        assert [d for d, _ in dense_after] == [d for d, _ in dense_before]
        np.testing.assert_allclose(
            [s for _, s in dense_after], [s for _, s in dense_before], atol=1e-6
        )
        hits = after.search(
            "anything at all", SearchParams(mode="dense", k=30, filter=json.dumps(RETRIEVAL))
        )
        docs = _corpus(demo_corpus)
        expected_ids = {i for i, d in docs.items() if d["metadata"].get("topic") == "retrieval"}
        assert {h.docid for h in hits} == expected_ids
    finally:
        after.close()
