"""The query path's overlaps change timing, never results: BM25 while the query encodes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.server.collection import Collection, DocIn
from lucene_hybrid.server.hybrid import open_index
from lucene_hybrid.server.types import SearchParams

QUERIES = ["how does lucene store vectors", "hybrid search fusion", "bm25 ranking function"]


def _ranked(hits):
    return [(h.docid, round(h.score, 6), h.bm25_rank, h.dense_rank) for h in hits]


def test_bm25_during_encoding_gives_the_sequential_results(demo_index, minilm):
    s = open_index(demo_index, encoder=minilm)
    try:
        s.query_cache_size = 0  # every search encodes, so BM25 overlaps the encoder
        for fusion in ("linear", "rrf"):
            p = SearchParams(fusion=fusion, fetch_docs=False)
            s.parallel_retrieval = None
            overlapped = [s.search(q, p, timings=(t := {})) for q in QUERIES]
            assert "encode_ms" in t and "bm25_ms" in t
            s.parallel_retrieval = False
            sequential = [s.search(q, p) for q in QUERIES]
            assert [_ranked(h) for h in overlapped] == [_ranked(h) for h in sequential]
    finally:
        s.close()


def test_a_write_during_encoding_is_not_missed(tmp_path, minilm):
    """BM25 run before a write lands is thrown away: the search sees the write, like a search
    that started after it."""
    coll = Collection.create("c", tmp_path / "c", encoder_spec=EncoderSpec(), encoder=minilm)
    try:
        coll.upsert([DocIn(id=f"d{i}", text=f"ordinary filler text {i}") for i in range(5)])
        s = coll.searcher
        query = "zebra migration patterns"
        params = SearchParams(mode="hybrid", k=3, fetch_docs=False)
        with ThreadPoolExecutor(1) as pool:
            early = pool.submit(s._early_bm25, query, params)
            early.result()  # BM25 has run: no document mentions zebras yet
            coll.upsert([DocIn(id="zebra", text="zebra migration patterns across the plains")])
            qvec = s.query_vectors([query])[0]
            with s.snapshot():
                hits = s._search(query, qvec, params, {}, early)
        assert hits[0].docid == "zebra" and hits[0].bm25_rank == 1
    finally:
        coll.close()
