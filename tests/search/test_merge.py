"""Putting shard answers together as one index would answer: collection-wide BM25 statistics,
the merge of per-shard lists, and Pyserini's tie adjustment computed after the merge."""

from __future__ import annotations

import json

import pytest

from lucene_hybrid.core import shard_of
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.search import (
    Ranked,
    TermStats,
    adjust_ties,
    analyzed_terms,
    leading_ids,
    merge_ranked,
    open_index,
)

QUERIES = ["lucene vector search", "the apple pie", "hnsw graph recall", "bm25 ranking"]


def test_term_stats_add_up_term_by_term_and_survive_their_text_form():
    a = TermStats(10, 9, 100, 50, {"lucen": (3, 5), "vector": (1, 1)})
    b = TermStats(5, 5, 40, 20, {"lucen": (2, 2), "graph": (4, 9)})
    total = TermStats.total([a, b])
    assert (total.max_doc, total.doc_count, total.sum_total_term_freq) == (15, 14, 140)
    assert total.terms == {"lucen": (5, 7), "vector": (1, 1), "graph": (4, 9)}
    assert TermStats.parse(total.format()) == total


def test_merge_keeps_the_best_and_breaks_equal_scores_by_id():
    one = Ranked(["d", "b"], [3.0, 1.0])
    two = Ranked(["c", "a", "e"], [3.0, 2.0, 1.0])
    merged = merge_ranked([one, two], 4)
    assert merged.ids == ["c", "d", "a", "b"]
    assert merged.scores == [3.0, 3.0, 2.0, 1.0]


def test_python_tie_adjustment_equals_lucenes_on_the_same_list(demo_index):
    """The Java searcher adjusts ties itself; scored with its own statistics and left raw, the
    same list adjusted in Python must come out identical to the last bit."""
    s = open_index(demo_index, load_query_encoder=False)
    try:
        for query in QUERIES + ["apple apple apple"]:
            java = s.bm25.search(query, 20, 0.9, 0.4)
            stats = s.bm25.term_stats(query)
            raw = s.bm25.search_global(query, 20, 0.9, 0.4, None, stats)
            assert adjust_ties(raw) == java, query
    finally:
        s.close()


@pytest.fixture(scope="module")
def split(tmp_path_factory, demo_corpus, minilm):
    """The demo corpus as one index and as three, split by the shard hash."""
    root = tmp_path_factory.mktemp("split")
    lines = demo_corpus.read_text().splitlines()
    parts = {"all": lines}
    for i in range(3):
        parts[f"s{i}"] = [ln for ln in lines if shard_of(json.loads(ln)["_id"], 3) == i]
    for name, chunk in parts.items():
        assert chunk, name
        (root / f"{name}.jsonl").write_text("\n".join(chunk) + "\n")
        build_index(BuildOptions(root / f"{name}.jsonl", root / name, progress=False), minilm)
    opened = {name: open_index(root / name, load_query_encoder=False) for name in parts}
    yield opened
    for s in opened.values():
        s.close()


def test_bm25_over_split_indexes_with_summed_statistics_equals_one_index(split):
    shards = [split[f"s{i}"] for i in range(3)]
    matched = 0
    for query in QUERIES:
        want = split["all"].bm25.search(query, 10, 0.9, 0.4)
        stats = TermStats.total(s.bm25.term_stats(query) for s in shards)
        assert stats == split["all"].bm25.term_stats(query)
        lists = [s.bm25.search_global(query, 10, 0.9, 0.4, None, stats) for s in shards]
        assert adjust_ties(merge_ranked(lists, 10)) == want, query
        if want.ids:
            matched += 1
            own = [s.bm25.search(query, 10, 0.9, 0.4) for s in shards]  # each its own stats
            assert merge_ranked(own, 10).scores != want.scores, "the statistics changed nothing"
    assert matched >= 3


def test_leading_ids_go_rank_by_rank_across_the_lists_each_once():
    bm25 = Ranked(["a", "b", "c", "d"], [4.0, 3.0, 2.0, 1.0])
    dense = Ranked(["c", "e"], [0.9, 0.8])
    assert leading_ids([bm25, dense], 3) == ["a", "c", "b", "e"]
    assert leading_ids([bm25, dense], 0) == []


def test_the_routers_analysis_gives_the_terms_an_index_counts(demo_index):
    """A router with no index analyzes a query into exactly the terms a shard's statistics
    list, in their order (it keeps statistics term by term)."""
    s = open_index(demo_index, load_query_encoder=False)
    try:
        for query in QUERIES + ["The Apples, and apple PIES!", "the of and"]:
            assert analyzed_terms(query) == list(s.bm25.term_stats(query).terms), query
        assert sorted(analyzed_terms("lucene searching")) == ["lucen", "search"]
    finally:
        s.close()
