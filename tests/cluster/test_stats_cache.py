"""The router's copy of its shards' BM25 statistics: summed only when every shard's part of
every term is known, and each part only as of the version its shard reported."""

from __future__ import annotations

from lucene_hybrid.cluster import StatsCache
from lucene_hybrid.search import TermStats


def test_sums_known_terms_and_names_the_versions_they_were_counted_at():
    cache = StatsCache(2)
    cache.learn(0, "v1", TermStats(10, 9, 100, 50, {"lucen": (3, 5)}))
    assert cache.total(["lucen"], [0, 1]) is None  # shard 1 said nothing yet
    cache.learn(1, "w1", TermStats(5, 5, 40, 20, {"lucen": (2, 2), "graph": (4, 9)}))
    total, versions = cache.total(["lucen"], [0, 1])
    assert versions == ["v1", "w1"]
    assert total == TermStats(15, 14, 140, 70, {"lucen": (5, 7)})
    assert cache.total(["lucen", "graph"], [0, 1]) is None  # shard 0 never counted "graph"
    total, versions = cache.total(["graph"], [1])  # the shards asked, only
    assert (total.doc_count, total.terms, versions) == (5, {"graph": (4, 9)}, ["w1"])


def test_a_new_version_forgets_what_was_counted_at_the_old_one():
    cache = StatsCache(1)
    cache.learn(0, "v1", TermStats(10, 9, 100, 50, {"lucen": (3, 5), "graph": (1, 1)}))
    cache.learn(0, "v2", TermStats(11, 10, 110, 55, {"lucen": (4, 6)}))
    assert cache.total(["graph"], [0]) is None
    total, versions = cache.total(["lucen"], [0])
    assert (total.max_doc, total.terms, versions) == (11, {"lucen": (4, 6)}, ["v2"])


def test_terms_past_the_bound_are_forgotten_and_learned_again():
    cache = StatsCache(1, max_terms=2)
    cache.learn(0, "v1", TermStats(1, 1, 1, 1, {"a": (1, 1), "b": (1, 1), "c": (1, 1)}))
    cache.learn(0, "v1", TermStats(1, 1, 1, 1, {"d": (1, 1)}))
    assert cache.total(["a"], [0]) is None
    assert cache.total(["d"], [0]) is not None
