"""Search parameter validation, manifest encoder checks, topic files, vector checks."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest

from lucene_hybrid.core.errors import CorpusError, EncoderError, ManifestError
from lucene_hybrid.core.manifest import Manifest, read_manifest, write_manifest
from lucene_hybrid.evaluation.topics import read_topics
from lucene_hybrid.indexing.encoders import EncoderSpec, check_vectors, l2_normalize
from lucene_hybrid.search.types import SearchParamError, SearchParams


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0},
        {"k": 10**9},
        {"depth": 0},
        {"alpha": 1.5},
        {"mode": "fuzzy"},
        {"fusion": "sum"},
        {"rrf_k": -1},
        {"rrf_k": math.nan},
        {"rrf_k": math.inf},
        {"weights": (1.0, -1.0)},
        {"weights": (1.0, math.nan)},
        # each is finite, but an RRF score could reach their sum, which is not
        {"weights": (1.7e308, 1.7e308)},
        {"b": 2.0},
        {"k1": -0.1},
        {"k1": math.nan},
        # Lucene takes k1 as a 32-bit float: larger values would reach it as infinity
        {"k1": 3.5e38},
        {"ef_search": 0},
        {"normalization": "l2"},
    ],
)
def test_bad_params_rejected(kwargs):
    with pytest.raises(SearchParamError):
        SearchParams(**kwargs)


def test_candidate_depth_never_below_k():
    assert SearchParams(k=1000, depth=100).candidate_depth == 1000
    assert SearchParams(k=10, depth=100).candidate_depth == 100


def manifest(**enc) -> Manifest:
    return Manifest(name="x", created_at="now", encoder=EncoderSpec(**enc), dim=384)


def test_manifest_refuses_other_encoder():
    m = manifest()
    m.check_encoder(EncoderSpec())  # same: fine
    with pytest.raises(ManifestError, match="rebuild the index with the new encoder"):
        m.check_encoder(EncoderSpec(model="intfloat/e5-base-v2"))
    with pytest.raises(ManifestError, match="768 dims"):
        m.check_encoder(EncoderSpec(), dim=768)


def test_precomputed_index_accepts_any_query_model_of_its_dimension():
    m = manifest(kind="precomputed", model="precomputed", dim=384)
    m.check_encoder(EncoderSpec(model="some/model"), dim=384)
    with pytest.raises(ManifestError):
        m.check_encoder(EncoderSpec(model="some/model"), dim=512)


def test_manifest_roundtrip_and_errors(tmp_path):
    with pytest.raises(ManifestError, match="not a lucene-hybrid index"):
        read_manifest(tmp_path)
    write_manifest(tmp_path, manifest())
    assert read_manifest(tmp_path).dim == 384
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ManifestError, match="damaged"):
        read_manifest(tmp_path)


def test_topics_tsv_gz_and_beir(tmp_path):
    tsv = tmp_path / "t.tsv.gz"
    tsv.write_bytes(gzip.compress(b"1\tfirst query\n2\tsecond\n"))
    assert read_topics(tsv) == {"1": "first query", "2": "second"}
    beir = tmp_path / "queries.jsonl"
    beir.write_text(json.dumps({"_id": "q1", "text": "hello", "metadata": {}}) + "\n")
    assert read_topics(beir) == {"q1": "hello"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\tok\nnotab\n")
    with pytest.raises(CorpusError, match=":2:"):
        read_topics(bad)
    lone = tmp_path / "lone.jsonl"
    lines = [{"_id": "q1", "text": "rocket \U0001f680"}, {"_id": "q2", "text": "x \udc00"}]
    lone.write_text("".join(json.dumps(q) + "\n" for q in lines))  # \ud83d\ude80, \udc00
    with pytest.raises(CorpusError, match=r":2: text: character 2 is a lone surrogate"):
        read_topics(lone)


def test_check_vectors():
    out = check_vectors(np.array([[3.0, 4.0]]), 2)
    np.testing.assert_allclose(out, [[0.6, 0.8]], rtol=1e-6)
    with pytest.raises(EncoderError, match="dimension 3 does not match the index's dimension 2"):
        check_vectors(np.array([[1.0, 2.0, 3.0]]), 2)
    with pytest.raises(EncoderError, match="NaN"):
        check_vectors(np.array([[np.nan, 1.0]]), 2)
    with pytest.raises(EncoderError, match="NaN or infinity"):
        check_vectors(np.array([[np.inf, 1.0]]), 2)
    with pytest.raises(EncoderError, match="all-zero"):
        check_vectors(np.array([[0.0, 0.0]]), 2)
    with pytest.raises(EncoderError, match="all-zero"):
        check_vectors(np.array([[1.0, 0.0], [0.0, 0.0]]), 2)  # any one of them


@pytest.mark.parametrize("value", [1e38, -3e38, 1e-30, 1e-45, 3.0])
def test_vectors_whose_squares_leave_float32_still_come_out_unit_length(value):
    """A float32 norm of 384 values of 1e38 is infinite (the vector would become zeros) and of
    1e-30 zero (refused as all-zero), though each has a direction: all ones, scaled."""
    dim = 384
    out = check_vectors(np.full((1, dim), value), dim)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.full((1, dim), np.sign(value) / dim**0.5), rtol=1e-6)
    mixed = l2_normalize(np.array([[value, 0.0], [3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(mixed, [[np.sign(value), 0.0], [0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_trec_scores_keep_our_order_for_trec_eval():
    from lucene_hybrid.evaluation.runfile import trec_scores
    from lucene_hybrid.search.types import Hit

    hits = [Hit("b", 0.5, 1), Hit("a", 0.5, 2), Hit("c", 0.25, 3), Hit("d", 0.25, 4)]
    scores = trec_scores(hits)
    assert scores[0] == 0.5 and scores[2] == 0.25
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert 0.5 - scores[1] < 1e-15  # the smallest possible change


def test_query_embeddings_are_cached_lru():
    import numpy as np

    from lucene_hybrid.search import hybrid
    from lucene_hybrid.search.hybrid import HybridSearcher

    calls: list[list[str]] = []

    class Encoder:
        def encode_queries(self, texts):
            calls.append(list(texts))
            return np.asarray([[len(t), 1.0] for t in texts], dtype=np.float32)

    searcher = HybridSearcher(manifest(), bm25=None, dense=object(), encoder=Encoder())  # type: ignore[arg-type]
    first = searcher.queries.get("volcano")
    again = searcher.queries.get("volcano")
    assert calls == [["volcano"]] and again is first and not first.flags.writeable
    for i in range(hybrid.QUERY_CACHE_SIZE):
        searcher.queries.get(f"q{i}")
    searcher.queries.get("volcano")  # evicted by 1,024 newer queries: encoded again
    assert calls[-1] == ["volcano"] and len(calls) == hybrid.QUERY_CACHE_SIZE + 2

    searcher.query_cache_size = 0  # off (the HTTP benchmark's server): every query is encoded
    before = len(calls)
    searcher.queries.get("volcano")
    searcher.queries.get("volcano")
    assert len(calls) == before + 2


def test_query_cache_size_is_a_server_setting(monkeypatch):
    from lucene_hybrid.server.settings import load_settings

    monkeypatch.setenv("LUCENE_HYBRID_QUERY_CACHE_SIZE", "0")
    assert load_settings(None).query_cache_size == 0


def test_exact_search_limit_is_a_server_setting(monkeypatch):
    from lucene_hybrid.server.settings import load_settings

    assert load_settings(None).exact_max_docs == 10_000
    monkeypatch.setenv("LUCENE_HYBRID_EXACT_MAX_DOCS", "0")  # HNSW always
    assert load_settings(None).exact_max_docs == 0
    with pytest.raises(ValueError, match="exact_max_docs"):
        load_settings(None, exact_max_docs=-1)


def test_dense_search_must_be_known():
    with pytest.raises(SearchParamError, match="dense_search"):
        SearchParams(dense_search="ivf")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"field": "a", "op": "like", "value": 1}', "filter.op: Input should be 'eq', 'ne'"),
        ('{"or": [{"not": {"field": "a", "value": null}}]}', "filter.or.0.not.value: Value error"),
        ("{bad", "filter: Invalid JSON"),
    ],
)
def test_a_bad_filter_on_the_command_line_says_where_it_is_wrong(text, message):
    """``search --filter`` reads JSON text: its error is one line naming the path, not
    pydantic's report of the union it tried."""
    from lucene_hybrid.search.filters import parse_filter

    with pytest.raises(ValueError) as caught:
        parse_filter(text)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
