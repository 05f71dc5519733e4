"""Real Lucene indexes built through Anserini: BM25 parity with Pyserini, HNSW recall, hybrid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lucene_hybrid.core.errors import CorpusError, IndexBuildError, ManifestError
from lucene_hybrid.core.manifest import QUANTIZATIONS, HnswSettings, read_manifest
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.indexing.corpus import JsonlFields
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import SearchParamError, SearchParams


@pytest.fixture(scope="module")
def searcher(demo_index, minilm):
    s = open_index(demo_index, encoder=minilm)
    yield s
    s.close()


def test_manifest_describes_the_index(demo_index, demo_corpus):
    m = read_manifest(demo_index)
    n = len(demo_corpus.read_text().splitlines())
    assert m.documents == n and m.counts["bm25"] == n and m.counts["dense"] == n
    assert m.dim == 384 and m.encoder.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert m.hnsw.similarity == "dot_product" and m.versions["lucene"].startswith("10.")
    assert set(m.timings) >= {"read_s", "encode_s", "bm25_index_s", "hnsw_index_s", "total_s"}
    assert not any(p.name.startswith(".") for p in demo_index.parent.iterdir()), "temp dirs left"


def test_bm25_parity_with_pyserini(demo_index, searcher, pyserini):
    """Same index, same queries: our BM25 equals Pyserini's LuceneSearcher, docid and score."""
    ref = pyserini.LuceneSearcher(str(demo_index / "bm25"))
    queries = [
        "vector search in lucene",
        "how do plants make oxygen",
        "bread yeast fermentation",
        "ranking function with k1 and b",
        "the",
        'BM25 AND (hnsw OR "rrf")~ title:x^2',
    ]
    for q in queries:
        ours = searcher.search(q, SearchParams(mode="bm25", k=10, fetch_docs=False))
        theirs = ref.search(q, k=10)
        assert [h.docid for h in ours] == [h.docid for h in theirs], q
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-6), q
    # per-request k1/b, against Pyserini's (mutating) set_bm25
    ref.set_bm25(1.2, 0.75)
    ours = searcher.search(
        "vector search in lucene", SearchParams(mode="bm25", k=5, k1=1.2, b=0.75, fetch_docs=False)
    )
    theirs = ref.search("vector search in lucene", k=5)
    assert [h.docid for h in ours] == [h.docid for h in theirs]
    assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-6)
    ref.close()


def test_bm25_ties_rank_as_pyserini_does(tmp_path, pyserini):
    """Equal BM25 scores rank by docid string, as Pyserini's (score, id) sort ranks them, when
    a run of ties straddles the cut (the sort is needed) and when it lies inside the top k (the
    plain top-k is reordered). Documents are written in the reverse of their ids' order, so
    Lucene's internal order alone would rank every tie the other way round."""
    docs = [(f"t{i}", "apple banana") for i in range(9, -1, -1)]  # ten exact ties on "apple"
    docs += [("c2", "cherry"), ("c1", "cherry"), ("c0", "cherry pie with a long crust")]
    corpus = tmp_path / "ties.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": d, "text": t, "vector": [1.0, 0.0]}) + "\n" for d, t in docs)
    )
    index = tmp_path / "ties"
    spec = EncoderSpec(kind="precomputed", model="precomputed", dim=2)
    fields = JsonlFields(vector="vector")
    build_index(
        BuildOptions(corpus, index, fmt="jsonl", fields=fields, encoder=spec, progress=False)
    )
    s = open_index(index)
    ref = pyserini.LuceneSearcher(str(index / "bm25"))
    ref.set_bm25(0.9, 0.4)
    try:
        for query, k in [("apple", 3), ("apple", 10), ("apple", 12), ("cherry", 2), ("cherry", 3)]:
            ours = [h.docid for h in s.search(query, SearchParams(mode="bm25", k=k))]
            assert ours == [h.docid for h in ref.search(query, k=k)], (query, k)
        assert ours[:2] == ["c1", "c2"]  # "cherry", k=3: the tie inside the top k, by id
        assert [h.docid for h in s.search("apple", SearchParams(mode="bm25", k=3))] == [
            "t0",
            "t1",
            "t2",
        ]
    finally:
        ref.close()
        s.close()


def test_dense_finds_paraphrase_and_hybrid_has_provenance(searcher):
    dense = searcher.search("which star pulls the sea up and down", SearchParams(mode="dense", k=3))
    assert dense[0].docid == "tides"
    assert dense[0].dense_rank == 1 and dense[0].bm25_rank is None
    query = "graph for approximate nearest neighbour vectors"
    assert searcher.search(query, SearchParams(k=5))[0].docid == "hnsw"  # the default fusion
    hits = searcher.search(query, SearchParams(k=5, fusion="rrf"))
    assert hits[0].docid == "hnsw"
    top = hits[0]
    assert top.bm25_rank is not None and top.dense_rank is not None
    assert top.score == pytest.approx(1 / (60 + top.bm25_rank) + 1 / (60 + top.dense_rank))
    assert top.text.startswith("Hierarchical navigable small world graphs")
    assert top.metadata == {
        "topic": "vectors",
        "year": 2016,
        "title": "Hierarchical navigable small world graphs",
    }
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


def test_linear_fusion_and_alpha(searcher):
    q = "fermentation with wild yeast"
    only_bm25 = searcher.search(
        q, SearchParams(fusion="linear", normalization="minmax", alpha=0.0, k=3, fetch_docs=False)
    )
    bm25 = searcher.search(q, SearchParams(mode="bm25", k=3, fetch_docs=False))
    # alpha=0: BM25 order first; dense-only candidates follow at the BM25 floor (0).
    assert [h.docid for h in only_bm25][: len(bm25)] == [h.docid for h in bm25]
    assert all(h.score == 0.0 for h in only_bm25[len(bm25) :])
    z = searcher.search(
        q, SearchParams(fusion="linear", normalization="zscore", k=3, fetch_docs=False)
    )
    assert z[0].docid == "bread"


def test_query_vector_given_instead_of_text(searcher, minilm):
    vec = minilm.encode_queries(["sleep and memory"])[0].tolist()
    hits = searcher.search(None, SearchParams(mode="dense", k=1), vector=vec)
    assert hits[0].docid == "sleep"
    with pytest.raises(Exception, match="dimension 3 does not match"):
        searcher.search(None, SearchParams(mode="dense", k=1), vector=[1.0, 0.0, 0.0])


def test_empty_text_query_rejected_for_bm25(searcher):
    with pytest.raises(SearchParamError, match="non-empty text query"):
        searcher.search("   ", SearchParams(mode="bm25"))


def test_batch_search_in_threads_matches_sequential(searcher):
    qs = ["coffee grind", "black hole event horizon", "chess centre", "immune memory cells"]
    params = SearchParams(k=3, fetch_docs=False)
    seq = [searcher.search(q, params) for q in qs]
    par = searcher.batch_search(qs, params, threads=4)
    assert [[h.docid for h in r] for r in par] == [[h.docid for h in r] for r in seq]


def test_mismatched_encoder_refused(demo_index):
    with pytest.raises(
        ManifestError, match="built with encoder hf:sentence-transformers/all-MiniLM-L6-v2"
    ):
        open_index(demo_index, EncoderSpec(model="intfloat/e5-small-v2"))


def test_existing_index_not_overwritten_without_flag(demo_index, demo_corpus, minilm):
    before = (demo_index / "manifest.json").read_text()
    with pytest.raises(IndexBuildError, match="--overwrite"):
        build_index(BuildOptions(corpus=demo_corpus, index=demo_index, progress=False), minilm)
    assert (demo_index / "manifest.json").read_text() == before


def test_failed_build_leaves_nothing(tmp_path, minilm):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "a", "text": "fine"}) + "\n{broken\n")
    target = tmp_path / "idx"
    with pytest.raises(Exception, match=":2: malformed"):
        build_index(BuildOptions(corpus=corpus, index=target, progress=False), minilm)
    assert list(tmp_path.iterdir()) == [corpus]


def test_a_repeated_id_stops_a_build_or_is_skipped_keeping_the_first(tmp_path, minilm):
    """Lucene would hold both documents of one id in each half (the build said 3 documents;
    searches and fetches saw either one)."""
    corpus = tmp_path / "c.jsonl"
    rows = [("a", "first text"), ("b", "other"), ("a", "second text")]
    corpus.write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in rows))
    target = tmp_path / "idx"
    with pytest.raises(CorpusError, match=":3: malformed .*duplicate id 'a'"):
        build_index(BuildOptions(corpus=corpus, index=target, progress=False), minilm)
    assert list(tmp_path.iterdir()) == [corpus]
    opts = BuildOptions(corpus=corpus, index=target, progress=False, skip_malformed=True)
    report = build_index(opts, minilm)
    counts = report.manifest.counts
    assert report.manifest.documents == counts["bm25"] == counts["dense"] == 2
    assert counts["skipped_lines"] == 1 and report.skipped_lines[0][0] == 3


def _build_precomputed(corpus, index, dim, hnsw=None) -> None:
    """Index a jsonl corpus whose documents carry their own "vector" field."""
    from lucene_hybrid.indexing.corpus import JsonlFields

    build_index(
        BuildOptions(
            corpus=corpus,
            index=index,
            fmt="jsonl",
            fields=JsonlFields(vector="vector"),
            encoder=EncoderSpec(kind="precomputed", model="precomputed", dim=dim),
            hnsw=hnsw or HnswSettings(),
            progress=False,
        )
    )


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("quantization", "oversample", "floor"),
    [
        ("none", 1, 0.95),
        ("int8", 3, 0.95),
        ("int7", 3, 0.95),
        ("int4", 3, 0.95),
        # One bit per dimension: random Gaussian vectors are BBQ's worst case (0.51 at 3x).
        ("bbq", 10, 0.75),
    ],
)
def test_hnsw_recall_against_exact_search(tmp_path, quantization, oversample, floor):
    """3,000 random 128-dim vectors: HNSW top-10 recall against brute force holds a floor per
    vectors format, and the scores returned are exact dot products (quantized formats rescore
    their candidates with the float32 vectors). At efSearch 100: the default, 60, is set from
    real embeddings (docs/benchmarks.md), and random Gaussian vectors, HNSW's hardest case, need
    the larger list."""
    rng = np.random.default_rng(7)
    n, dim = 3000, 128
    vecs = _unit(rng.normal(size=(n, dim)).astype(np.float32))
    corpus = tmp_path / "vecs.jsonl"
    with open(corpus, "w") as fh:
        for i, v in enumerate(vecs):
            fh.write(json.dumps({"id": f"v{i}", "text": f"doc {i}", "vector": v.tolist()}) + "\n")
    index = tmp_path / "idx"
    hnsw = HnswSettings(M=16, ef_construction=100, quantization=quantization, oversample=oversample)
    _build_precomputed(corpus, index, dim, hnsw)
    assert read_manifest(index).hnsw.quantization == quantization
    s = open_index(index)
    assert s.encoder is None
    queries = _unit(rng.normal(size=(100, dim)).astype(np.float32))
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    found = 0
    for q, truth in zip(queries, exact, strict=True):
        params = SearchParams(mode="dense", k=10, ef_search=100, fetch_docs=False)
        hits = s.search(None, params, vector=q.tolist())
        found += len({h.docid for h in hits} & {f"v{i}" for i in truth})
        for h in hits:
            dot = float(vecs[int(h.docid[1:])] @ q)
            assert h.dense_score == pytest.approx((1 + dot) / 2, abs=1e-5)
    s.close()
    recall = found / (10 * len(queries))
    assert recall >= floor, recall


def test_each_quantization_writes_its_own_vectors_format(tmp_path):
    """The format named in the settings is the one on disk: quantized formats store their
    quantized vectors beside the float32 ones, so each adds roughly bits/32 of the float32 size,
    in the order of its bits (bbq 1 < int4 4 < int7 7 <= int8 8)."""
    rng = np.random.default_rng(3)
    n, dim = 2000, 256
    vecs = _unit(rng.normal(size=(n, dim)).astype(np.float32))
    corpus = tmp_path / "vecs.jsonl"
    with open(corpus, "w") as fh:
        for i, v in enumerate(vecs):
            fh.write(json.dumps({"id": f"v{i}", "text": f"doc {i}", "vector": v.tolist()}) + "\n")
    sizes = {}
    for quantization in QUANTIZATIONS:
        index = tmp_path / quantization
        _build_precomputed(corpus, index, dim, HnswSettings(quantization=quantization))
        sizes[quantization] = sum(f.stat().st_size for f in (index / "hnsw").rglob("*"))
    floats = n * dim * 4
    assert sizes["none"] < sizes["bbq"] < sizes["int4"] < sizes["int7"] <= sizes["int8"], sizes
    assert sizes["int8"] - sizes["none"] == pytest.approx(floats / 4, rel=0.15), sizes
    assert sizes["int4"] - sizes["none"] == pytest.approx(floats / 8, rel=0.25), sizes


def test_metadata_backfill_leaves_bm25_scores_unchanged(tmp_path, demo_corpus):
    """Half the docs carry metadata (rewritten after Anserini's build to make it filterable):
    BM25 scores must equal those of the same corpus indexed without any metadata."""
    rows = [json.loads(line) for line in demo_corpus.read_text().splitlines()]
    rng = np.random.default_rng(1)
    with_meta, without = tmp_path / "with.jsonl", tmp_path / "without.jsonl"
    with open(with_meta, "w") as a, open(without, "w") as b:
        for i, r in enumerate(rows):
            vec = rng.normal(size=8).tolist()
            base = {"id": r["_id"], "text": r["text"], "vector": vec}
            meta = {"topic": r["metadata"]["topic"]} if i % 2 else {}
            a.write(json.dumps({**base, **meta}) + "\n")
            b.write(json.dumps(base) + "\n")
    searchers = []
    for corpus in (with_meta, without):
        index = tmp_path / corpus.stem
        _build_precomputed(corpus, index, 8)
        searchers.append(open_index(index))
    assert read_manifest(tmp_path / "with").counts["with_metadata"] == len(rows) // 2
    params = SearchParams(mode="bm25", k=10, fetch_docs=False)
    for q in ["winter survival", "search engine ranking", "bread yeast", "the moon"]:
        a, b = (s.search(q, params) for s in searchers)
        assert [(h.docid, h.score) for h in a] == [(h.docid, h.score) for h in b], q
    filtered = searchers[0].search(
        None,
        SearchParams(
            mode="dense", k=30, filter='{"field": "topic", "op": "eq", "value": "science"}'
        ),
        vector=rng.normal(size=8).tolist(),
    )
    science = {
        r["_id"] for i, r in enumerate(rows) if i % 2 and r["metadata"]["topic"] == "science"
    }
    assert {h.docid for h in filtered} == science and science
    for s in searchers:
        s.close()


def test_every_vector_is_its_own_documents_text(tmp_path, minilm):
    """Encoding reads the staged documents back (parsed by Arrow, the next window read and the
    last window's vectors written in other threads): each vector must still be its own
    document's text. Three windows, a document longer than two of Arrow's default 1 MiB
    blocks, text that JSON escapes, and metadata of mixed types beside it."""
    rng = np.random.default_rng(3)

    def words(n: int) -> str:
        return " ".join("".join(rng.choice(list("abcdefghijklmnoprstuvy"), 6)) for _ in range(n))

    texts = {f"f{i}": words(12) for i in range(1100)}
    texts["long"] = "glacier " + words(450_000)  # ~3 MB on one staged line
    texts["escapes"] = 'a "quote" \\ tab\t newline\n nul\x00 bell\x07 sep\u2028 🚀 日本語 ünï'
    corpus = tmp_path / "c.jsonl"
    with open(corpus, "w", encoding="utf-8") as fh:
        for i, (docid, text) in enumerate(texts.items()):
            extra = {"n": i, "tags": ["x", None, 1.5], "nested": {"k": [{}]}} if i % 3 else {}
            fh.write(json.dumps({"id": docid, "text": text, **extra}, ensure_ascii=False) + "\n")
    build_index(BuildOptions(corpus=corpus, index=tmp_path / "idx", progress=False), minilm)
    s = open_index(tmp_path / "idx", encoder=minilm)
    try:
        checked = ["long", "escapes", *(f"f{i}" for i in range(0, 1100, 37))]
        want = minilm.encode_documents([texts[d] for d in checked])
        for docid, vector in zip(checked, want, strict=True):
            params = SearchParams(mode="dense", k=2, fetch_docs=False)
            hits = s.search(None, params, vector=vector.tolist())
            assert hits[0].docid == docid
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)  # (1 + dot) / 2
            assert hits[1].score < 0.99
    finally:
        s.close()


class _BreaksOnSecondWindow:
    """The real encoder, failing part-way through a build (out of memory, a driver error...)."""

    def __init__(self, inner):
        self.inner, self.spec, self.calls = inner, inner.spec, 0

    name = property(lambda self: self.inner.name)
    dim = property(lambda self: self.inner.dim)
    batch_size = property(lambda self: self.inner.batch_size)

    def encode_documents(self, texts):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("simulated failure while encoding")
        return self.inner.encode_documents(texts)


def test_encoder_failure_mid_build_stops_its_threads_and_leaves_nothing(tmp_path, minilm):
    import threading

    corpus = tmp_path / "c.jsonl"
    with open(corpus, "w") as fh:
        for i in range(1500):  # three windows of 512
            fh.write(json.dumps({"id": f"d{i}", "text": f"document number {i}"}) + "\n")
    encoder = _BreaksOnSecondWindow(minilm)
    with pytest.raises(RuntimeError, match="simulated"):
        build_index(BuildOptions(corpus=corpus, index=tmp_path / "idx", progress=False), encoder)
    assert encoder.calls == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]
    left = {t.name for t in threading.enumerate()}
    assert not {
        n for n in left if n.startswith(("read-ahead", "tokenize-ahead", "vector-shards"))
    }, left
