"""Hard-negative mining and MNRL batching: what may and may not become a negative."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lucene_hybrid.training.mining import (
    MiningOptions,
    batches,
    epoch_examples,
    fill_random_negatives,
    jaccard,
    mine_hard_negatives,
    words,
)

DOCS = [f"d{i}" for i in range(30)]


@settings(max_examples=200, deadline=None)
@given(
    rankings=st.dictionaries(
        st.sampled_from(["q1", "q2", "q3", "q4"]),
        st.lists(st.sampled_from(DOCS), unique=True, max_size=30),
        min_size=1,
    ),
    positives=st.dictionaries(
        st.sampled_from(["q1", "q2", "q3", "q4"]),
        st.sets(st.sampled_from(DOCS), max_size=8),
    ),
    depth=st.integers(1, 40),
    count=st.integers(1, 10),
    skip=st.integers(0, 5),
)
def test_judged_positives_never_become_negatives(rankings, positives, depth, count, skip):
    texts = {d: f"text of document {d}" for d in DOCS}  # all near-identical: threshold 1.01
    opts = MiningOptions(depth=depth, negatives=count, skip_top=skip, near_duplicate=1.01)
    mined = mine_hard_negatives(rankings, positives, texts, opts)
    for qid, negs in mined.items():
        assert positives[qid], "a query without positives gets no negatives"
        assert not set(negs) & positives[qid]
        ranking = rankings[qid]
        window = ranking[skip:depth]
        assert len(negs) <= count
        assert all(n in window for n in negs), "negatives come from the BM25 window only"
        # Best BM25 ranks first, and nothing eligible was passed over.
        assert negs == [d for d in window if d not in positives[qid]][:count]
    assert set(mined) == {q for q in rankings if positives.get(q)}


def test_near_duplicates_of_a_positive_are_skipped():
    texts = {
        "pos": "Vitamin D supplements reduce the risk of fractures in older adults.",
        "dup": "Vitamin D supplements reduce the risk of fractures in older adults!",
        "neg": "Calcium intake and bone density in adolescent athletes.",
        "other": "Vitamin D and fracture risk: a cohort study of nurses.",
    }
    mined = mine_hard_negatives(
        {"q": ["dup", "pos", "other", "neg"]}, {"q": {"pos"}}, texts, MiningOptions()
    )
    assert mined == {"q": ["other", "neg"]}
    # The threshold decides: at 1.01 nothing counts as a duplicate.
    loose = mine_hard_negatives(
        {"q": ["dup", "pos", "neg"]}, {"q": {"pos"}}, texts, MiningOptions(near_duplicate=1.01)
    )
    assert loose == {"q": ["dup", "neg"]}


def test_jaccard_of_word_sets():
    assert jaccard(words("a b c"), words("C B A")) == 1.0
    assert jaccard(words("a b"), words("c d")) == 0.0
    assert jaccard(words("a b c d"), words("a b")) == 0.5
    assert jaccard(words(""), words("")) == 1.0


def test_epoch_examples_rotate_positives_and_attach_negatives():
    positives = {"q1": ["a", "b", "c"], "q2": ["d"]}
    negatives = {"q1": ["n1", "n2"], "q2": []}
    rng = random.Random(0)
    first = epoch_examples(positives, negatives, epoch=0, per_query=2, rng=rng)
    second = epoch_examples(positives, negatives, epoch=1, per_query=2, rng=rng)
    assert sorted(p for q, p, _ in first if q == "q1") == ["a", "b"]
    assert sorted(p for q, p, _ in second if q == "q1") == ["a", "c"]  # c, then a again
    assert all(n in ("n1", "n2") for q, _, n in first + second if q == "q1")
    assert [(q, p, n) for q, p, n in first if q == "q2"] == [("q2", "d", None)]


@settings(max_examples=100, deadline=None)
@given(
    pos=st.dictionaries(
        st.sampled_from([f"q{i}" for i in range(12)]),
        st.sets(st.sampled_from(DOCS), min_size=1, max_size=5),
        min_size=2,
    ),
    size=st.integers(2, 8),
    seed=st.integers(0, 1000),
)
def test_batches_hold_only_true_in_batch_negatives(pos, size, seed):
    rng = random.Random(seed)
    negs = {q: rng.sample([d for d in DOCS if d not in p], 3) for q, p in pos.items()}
    examples = epoch_examples(pos, negs, epoch=0, per_query=2, rng=rng)
    out = batches(examples, size, pos)
    placed = [ex for b in out for ex in b]
    assert len(placed) == len(set(placed))
    assert set(placed) <= set(examples)
    for batch in out:
        assert 2 <= len(batch) <= size
        docs = [d for _, p, n in batch for d in (p, n) if d is not None]
        assert len(docs) == len(set(docs)), "a document twice in one batch"
        for qid, _p, _n in batch:
            others = {d for q, pp, nn in batch if q != qid for d in (pp, nn)}
            assert not others & pos[qid], "another example's document is relevant to this query"


def test_compatible_examples_are_all_batched():
    pos = {f"q{i}": {f"p{i}"} for i in range(10)}
    negs = {f"q{i}": [f"n{i}"] for i in range(10)}
    examples = epoch_examples(pos, negs, epoch=0, per_query=1, rng=random.Random(3))
    out = batches(examples, 4, pos)
    assert [len(b) for b in out] == [4, 4, 2]
    assert sorted(ex for b in out for ex in b) == sorted(examples)


def test_queries_without_hard_negatives_get_random_unjudged_ones():
    positives = {"q1": {"d1", "d2"}, "q2": set(DOCS[:25])}
    negatives = {"q1": ["d9"], "q2": []}  # q2: BM25's whole window was judged relevant
    added = fill_random_negatives(negatives, positives, DOCS, count=3, seed=1)
    assert negatives["q1"] == ["d9"], "mined negatives are kept as they are"
    assert 1 <= len(negatives["q2"]) <= 3 and added == len(negatives["q2"])
    assert not set(negatives["q2"]) & positives["q2"]
    again = {"q1": ["d9"], "q2": []}
    fill_random_negatives(again, positives, DOCS, count=3, seed=1)
    assert again == negatives, "seeded"
