"""A collection split over three shard actors on a two-node Ray cluster answers as one index
holding the same documents: the same ids, ranks and scores in every mode."""

from __future__ import annotations

import pytest

from lucene_hybrid.search import SearchParams, filter_json, parse_filter

QUERIES = [
    "how does the with statement work",
    "operator precedence of comparisons",
    "exception handling and the finally clause",
    "class definition with a metaclass",
    "augmented assignment statements",
    "the import system and packages",
    "string formatting with format specifications",
    "lambda expressions",
    "generator functions and yield",
    "integer division and modulo",
]


@pytest.fixture(scope="module")
def single(tmp_path_factory, minilm, pydoc_docs):
    from lucene_hybrid.server import Collection

    coll = Collection.create(
        "single", tmp_path_factory.mktemp("single") / "c", encoder_spec=minilm.spec, encoder=minilm
    )
    for i in range(0, len(pydoc_docs), 500):
        coll.upsert(pydoc_docs[i : i + 500])
    yield coll
    coll.close()


@pytest.fixture(scope="module")
def sharded(ray_cluster, tmp_path_factory, minilm, pydoc_docs):
    from lucene_hybrid.cluster import ShardedCollection

    coll = ShardedCollection.open(
        "pydoc",
        tmp_path_factory.mktemp("sharded") / "c",
        shards=3,
        encoder=minilm,
        heap="256m",
    )
    for i in range(0, len(pydoc_docs), 500):
        coll.upsert(pydoc_docs[i : i + 500])
    yield coll
    coll.shutdown()


def ranking(hits):
    return [(h.docid, h.rank, round(h.score, 4)) for h in hits]


def test_every_shard_holds_part_and_the_total_is_the_corpus(sharded, pydoc_docs):
    counts = sharded.shard_counts()
    assert sum(counts) == len(pydoc_docs)
    assert min(counts) > len(pydoc_docs) / 6  # a uniform hash: no shard near empty


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(mode="bm25", k=10),
        SearchParams(mode="dense", k=10, dense_search="exact"),
        SearchParams(mode="hybrid", k=10, dense_search="exact", fusion="rrf"),
        SearchParams(mode="hybrid", k=10, dense_search="exact", fusion="linear"),
        SearchParams(mode="hybrid", k=5, offset=7, dense_search="exact"),
        SearchParams(
            mode="bm25",
            k=10,
            filter=filter_json(parse_filter({"field": "n", "op": "eq", "value": 3})),
        ),
    ],
    ids=["bm25", "dense-exact", "hybrid-rrf", "hybrid-linear", "paged", "filtered"],
)
def test_sharded_ranking_equals_one_index(single, sharded, params):
    for query in QUERIES:
        want = single.search(query, params)
        got = sharded.search(query, params)
        assert ranking(got) == ranking(want), query
        assert [h.text for h in got] == [h.text for h in want]
        assert [h.bm25_rank for h in got] == [h.bm25_rank for h in want]


def test_hnsw_recall_on_shards_is_at_least_one_index(single, sharded):
    exact = SearchParams(mode="dense", k=10, dense_search="exact")
    graph = SearchParams(mode="dense", k=10, dense_search="hnsw", ef_search=20)

    def recall(coll):
        found = 0
        for q in QUERIES:
            truth = {h.docid for h in single.search(q, exact)}
            found += len(truth & {h.docid for h in coll.search(q, graph)})
        return found / (10 * len(QUERIES))

    assert recall(sharded) >= recall(single)


def test_a_write_through_another_router_is_scored_with_the_new_statistics(single, sharded, minilm):
    """The router keeps its shards' BM25 statistics between searches; a write another router
    made visible changes them, and the next search must score with the new ones."""
    from lucene_hybrid.cluster import ShardedCollection
    from lucene_hybrid.server import DocIn

    params = SearchParams(mode="bm25", k=10)
    query = "lambda expressions and generator functions"
    assert ranking(sharded.search(query, params)) == ranking(single.search(query, params))
    texts = [f"lambda expressions number {i} in a generator" for i in range(40)]
    docs = [
        DocIn(id=f"new{i:03d}", text=t, metadata={}, vector=v)
        for i, (t, v) in enumerate(zip(texts, minilm.encode_documents(texts), strict=True))
    ]
    other = ShardedCollection.open("pydoc", sharded.path, encoder=minilm)  # the same actors
    assert other.upsert(docs) == len(docs)
    single.upsert(docs)
    for q in (query, *QUERIES[:3]):
        for p in (params, SearchParams(mode="hybrid", k=10, dense_search="exact")):
            assert ranking(sharded.search(q, p)) == ranking(single.search(q, p)), q


@pytest.mark.parametrize("chars", [0, 2_000])
def test_a_page_beyond_the_records_shards_send_along_is_fetched_after_fusion(
    single, sharded, monkeypatch, chars
):
    """Shards send the stored records of their best candidates with their lists, up to a
    number of characters; whatever of the page is not among them is fetched after fusion
    (all of it with none sent, part of it with a few)."""
    from lucene_hybrid.cluster import collection

    monkeypatch.setattr(collection, "INLINE_CHARS", chars)
    params = SearchParams(mode="hybrid", k=10, dense_search="exact")
    for query in QUERIES[:4]:
        want, got = single.search(query, params), sharded.search(query, params)
        assert ranking(got) == ranking(want), query
        assert [(h.text, h.metadata) for h in got] == [(h.text, h.metadata) for h in want]
