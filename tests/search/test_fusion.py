"""Fusion on hand-computed cases: RRF, min-max and z-score linear, ties, absences, weights."""

from __future__ import annotations

import math

import pytest

from lucene_hybrid.search.fusion import linear, normalize, rrf, untie_bm25
from lucene_hybrid.search.types import Scored


def ranked(*pairs):
    return [Scored(d, s) for d, s in pairs]


BM25 = ranked(("a", 12.0), ("b", 10.0), ("c", 4.0))
DENSE = ranked(("c", 0.75), ("d", 0.625), ("a", 0.25))  # exact in binary


def test_rrf_hand_computed():
    out = rrf({"bm25": BM25, "dense": DENSE}, k=60)
    scores = {f.docid: f.score for f in out}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert scores["d"] == pytest.approx(1 / 62)
    # a and c tie on score and on best rank (1): docid breaks the tie. b and d tie too.
    assert [f.docid for f in out] == ["a", "c", "b", "d"]
    assert out[0].sources == {"bm25": (1, 12.0), "dense": (3, 0.25)}
    assert out[3].sources == {"dense": (2, 0.625)}  # absent from bm25: no entry, not zero


def test_rrf_weights():
    out = rrf({"bm25": BM25, "dense": DENSE}, k=60, weights={"bm25": 0.0, "dense": 2.0})
    assert [f.docid for f in out][:2] == ["c", "d"]
    assert out[0].score == pytest.approx(2 / 61)
    assert {f.docid: f.score for f in out}["b"] == 0.0


def test_rrf_empty_and_single_lists():
    assert rrf({"bm25": [], "dense": []}) == []
    out = rrf({"bm25": [], "dense": DENSE})
    assert [f.docid for f in out] == ["c", "d", "a"]


def test_rrf_does_not_mutate_inputs():
    before = list(BM25)
    rrf({"bm25": BM25, "dense": DENSE})
    linear({"bm25": BM25, "dense": DENSE}, {"bm25": 0.5, "dense": 0.5})
    assert before == BM25


def test_minmax_linear_hand_computed():
    out = linear({"bm25": BM25, "dense": DENSE}, {"bm25": 0.5, "dense": 0.5})
    s = {f.docid: f.score for f in out}
    # bm25 norm: a 1, b 0.75, c 0 ; dense norm: c 1, d 0.75, a 0 ; absent -> floor 0
    assert s["a"] == pytest.approx(0.5 * 1 + 0.5 * 0)
    assert s["b"] == pytest.approx(0.5 * 0.75)
    assert s["c"] == pytest.approx(0.5 * 0 + 0.5 * 1)
    assert s["d"] == pytest.approx(0.5 * 0.75)
    assert [f.docid for f in out] == ["a", "c", "b", "d"]


def test_linear_alpha_extremes_reproduce_single_lists():
    only_bm25 = linear({"bm25": BM25, "dense": DENSE}, {"bm25": 1.0, "dense": 0.0})
    assert [f.docid for f in only_bm25][:3] == ["a", "b", "c"]
    only_dense = linear({"bm25": BM25, "dense": DENSE}, {"bm25": 0.0, "dense": 1.0})
    assert [f.docid for f in only_dense][:3] == ["c", "d", "a"]


def test_zscore_linear_absent_takes_list_floor():
    out = linear(
        {"bm25": BM25, "dense": DENSE}, {"bm25": 0.5, "dense": 0.5}, normalization="zscore"
    )
    s = {f.docid: f.score for f in out}
    bm = [12.0, 10.0, 4.0]
    mean = sum(bm) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in bm) / 3)
    z_b = (10.0 - mean) / std
    dz = [0.75, 0.625, 0.25]
    dmean = sum(dz) / 3
    dstd = math.sqrt(sum((x - dmean) ** 2 for x in dz) / 3)
    dense_floor = (0.25 - dmean) / dstd
    assert s["b"] == pytest.approx(0.5 * z_b + 0.5 * dense_floor)


def test_normalize_constant_list():
    assert normalize([3.0, 3.0], "minmax") == [1.0, 1.0]
    assert normalize([3.0, 3.0], "zscore") == [0.0, 0.0]
    assert normalize([], "minmax") == []


def test_untie_bm25_gives_back_the_ties_the_adjuster_told_apart():
    """Search.adjustTies' output: 4-decimal scores, each tie 1e-6 below the one above it (in
    float32). Ties score alike again; scores a rounding step (1e-4) apart stay apart."""
    adjusted = ranked(
        ("a", 7.1234),
        ("b", 7.123399),  # tie with a
        ("c", 7.123398),  # tie with a
        ("d", 7.1233),  # a step below
        ("e", 2.0),
        ("f", 1.999999),  # tie with e
    )
    untied = untie_bm25(adjusted)
    assert untied.ids == ["a", "b", "c", "d", "e", "f"]
    assert untied.scores == [7.1234, 7.1234, 7.1234, 7.1233, 2.0, 2.0]
    assert adjusted[1].score == 7.123399  # the input is left as it was


def test_a_bm25_list_of_ties_leaves_linear_fusion_to_the_other_list():
    """Every BM25 candidate ties (adjusted apart by 1e-6 steps): untied, BM25 normalizes to a
    constant, so the fused order is the dense order, not the ids' order."""
    bm25 = ranked(*((f"d{i}", 0.0245 - 1e-6 * i) for i in range(10)))
    dense = ranked(*((f"d{i}", 0.5 + 0.01 * i) for i in reversed(range(10))))
    for norm in ("minmax", "zscore"):
        lists = {"bm25": untie_bm25(bm25), "dense": dense}
        fused = linear(lists, {"bm25": 0.5, "dense": 0.5}, normalization=norm)
        assert [f.docid for f in fused] == [h.docid for h in dense], norm
        raw = linear(
            {"bm25": bm25, "dense": dense}, {"bm25": 0.5, "dense": 0.5}, normalization=norm
        )
        assert [f.docid for f in raw] != [h.docid for h in dense], norm  # what untying fixes


def test_duplicate_docid_in_one_list_counts_once_at_best_rank():
    out = rrf({"bm25": ranked(("a", 3.0), ("a", 2.0), ("b", 1.0))}, k=0)
    s = {f.docid: f.score for f in out}
    assert s["a"] == pytest.approx(1.0) and s["b"] == pytest.approx(1 / 3)


def test_minmax_single_hit_list_still_outranks_absent_docs():
    out = linear({"bm25": ranked(("a", 7.0)), "dense": DENSE}, {"bm25": 0.9, "dense": 0.1})
    s = {f.docid: f.score for f in out}
    assert s["a"] == pytest.approx(0.9 * 1.0 + 0.1 * 0.0)  # a is last in dense: norm 0
    assert s["c"] == pytest.approx(0.9 * 0.0 + 0.1 * 1.0)  # c absent from bm25: floor 0
    assert out[0].docid == "a"


def test_zscore_single_hit_list_still_counts():
    """A single BM25 hit has z = 0; absent documents take -1, so the hit still counts."""
    out = linear(
        {"bm25": ranked(("a", 7.0)), "dense": DENSE},
        {"bm25": 0.5, "dense": 0.5},
        normalization="zscore",
    )
    s = {f.docid: f.score for f in out}
    dz = [0.75, 0.625, 0.25]
    mean = sum(dz) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in dz) / 3)
    assert s["a"] == pytest.approx(0.5 * 0.0 + 0.5 * (0.25 - mean) / std)
    assert s["c"] == pytest.approx(0.5 * -1.0 + 0.5 * (0.75 - mean) / std)


@pytest.mark.parametrize("method", ["linear-minmax", "linear-zscore", "rrf"])
def test_explain_reproduces_the_fused_score(method):
    from lucene_hybrid.search.fusion import explain

    bm25 = [Scored("a", 12.0), Scored("b", 9.5), Scored("c", 3.0)]
    dense = [Scored("c", 0.91), Scored("d", 0.88), Scored("a", 0.52)]
    lists = {"bm25": bm25, "dense": dense}
    if method == "rrf":
        weights = {"bm25": 1.0, "dense": 2.0}
        fused = rrf(lists, k=10, weights=weights)
        explained = [explain(f, weights, "rrf", rrf_k=10) for f in fused]
    else:
        norm = method.split("-")[1]
        weights = {"bm25": 0.3, "dense": 0.7}
        fused = linear(lists, weights, normalization=norm)
        explained = [explain(f, weights, "linear", normalization=norm) for f in fused]
    for f, e in zip(fused, explained, strict=True):
        lists_ = e["lists"]
        if method == "rrf":
            total = sum(
                v["weight"] / (10 + v["rank"]) for v in lists_.values() if v["rank"] is not None
            )
        else:
            total = sum(v["weight"] * v["normalized"] for v in lists_.values())
            absent = {n for n, v in lists_.items() if v["absent"]}
            assert absent == {"bm25", "dense"} - set(f.sources)
        assert total == pytest.approx(f.score)
        assert e["formula"].endswith(f"= {f.score:.6f}")
    # "b" is BM25-only: in min-max it takes the dense floor 0, so its score is 0.3 x its norm.
    if method == "linear-minmax":
        b = next(e for f, e in zip(fused, explained, strict=True) if f.docid == "b")
        assert b["lists"]["dense"]["normalized"] == 0.0
        assert b["lists"]["bm25"]["normalized"] == pytest.approx((9.5 - 3.0) / (12.0 - 3.0))
