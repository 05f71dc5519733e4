"""Property-based tests (hypothesis) of the fusion functions and the corpus readers."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.indexing.corpus import read_corpus
from lucene_hybrid.search.fusion import linear, rrf
from lucene_hybrid.search.types import Ranked, Scored

docids = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def ranked_list(draw, unique=True):
    """A ranked list, as Scored objects or as the Ranked columns searches produce."""
    ids = draw(st.lists(docids, unique=unique, max_size=20))
    values = sorted(draw(st.lists(scores, min_size=len(ids), max_size=len(ids))), reverse=True)
    if draw(st.booleans()):
        return Ranked(ids, values)
    return [Scored(d, s) for d, s in zip(ids, values, strict=True)]


@given(
    ranked_list(unique=False),
    ranked_list(unique=False),
    st.integers(0, 45),
    st.sampled_from(["rrf", "minmax", "zscore"]),
)
def test_columns_and_scored_lists_fuse_alike(a, b, limit, method):
    """Ranked columns (repeated docids included) fuse exactly as the same lists of Scored do."""
    as_objects = {"bm25": list(a), "dense": list(b)}
    as_columns = {
        n: Ranked([h.docid for h in v], [h.score for h in v]) for n, v in as_objects.items()
    }
    w = {"bm25": 0.3, "dense": 0.7}
    for lists in (as_objects, as_columns):
        assert all(isinstance(h, Scored) for v in lists.values() for h in v)
    if method == "rrf":
        assert rrf(as_columns, weights=w, limit=limit) == rrf(as_objects, weights=w, limit=limit)
    else:
        got = linear(as_columns, w, normalization=method, limit=limit)
        assert got == linear(as_objects, w, normalization=method, limit=limit)


@given(ranked_list(), ranked_list(), st.floats(0, 100), st.floats(0, 5), st.floats(0, 5))
def test_rrf_properties(a, b, k, w1, w2):
    before = copy.deepcopy((a, b))
    out = rrf({"bm25": a, "dense": b}, k=k, weights={"bm25": w1, "dense": w2})
    assert (a, b) == before  # inputs untouched
    assert {f.docid for f in out} == {h.docid for h in a} | {h.docid for h in b}
    assert all(x.score >= y.score for x, y in zip(out, out[1:], strict=False))
    assert all(0 <= f.score <= (w1 + w2) / (k + 1) + 1e-12 for f in out)


@given(ranked_list(), ranked_list(), st.floats(0, 1), st.sampled_from(["minmax", "zscore"]))
def test_linear_properties(a, b, alpha, norm):
    out = linear({"bm25": a, "dense": b}, {"bm25": 1 - alpha, "dense": alpha}, normalization=norm)
    assert {f.docid for f in out} == {h.docid for h in a} | {h.docid for h in b}
    assert all(x.score >= y.score for x, y in zip(out, out[1:], strict=False))
    if norm == "minmax":
        assert all(-1e-9 <= f.score <= 1 + 1e-9 for f in out)
    for f in out:  # provenance is the input rank and score
        for name, (rank, score) in f.sources.items():
            src = a if name == "bm25" else b
            assert src[rank - 1] == Scored(f.docid, score)


@given(
    ranked_list(), ranked_list(), st.integers(0, 45), st.sampled_from(["rrf", "minmax", "zscore"])
)
def test_a_limit_returns_the_head_of_the_full_fusion(a, b, limit, method):
    lists = {"bm25": a, "dense": b}
    if method == "rrf":
        full, head = rrf(lists), rrf(lists, limit=limit)
    else:
        w = {"bm25": 0.3, "dense": 0.7}
        full = linear(lists, w, normalization=method)
        head = linear(lists, w, normalization=method, limit=limit)
    assert head == full[:limit]


def _reference(lists, method, weights, k=60.0):
    """Fused scores straight from the definitions, one document at a time (slow and plain)."""
    out = {}
    docs = {h.docid for hits in lists.values() for h in hits}
    for d in docs:
        total = 0.0
        for name, hits in lists.items():
            ranks = [i for i, h in enumerate(hits, start=1) if h.docid == d]
            if method == "rrf":
                total += weights[name] / (k + ranks[0]) if ranks else 0.0
                continue
            values = [h.score for h in hits]
            if method == "minmax":
                lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
                norm = [1.0 if hi == lo else (v - lo) / (hi - lo) for v in values]
                floor = 0.0
            else:
                mean = sum(values) / len(values) if values else 0.0
                std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 if values else 0
                norm = [0.0 if std == 0 else (v - mean) / std for v in values]
                floor = 0.0 if not norm else min(norm) - (1.0 if min(norm) == max(norm) else 0.0)
            total += weights[name] * (norm[ranks[0] - 1] if ranks else floor)
        out[d] = total
    return out


@given(ranked_list(), ranked_list(), st.sampled_from(["rrf", "minmax", "zscore"]), st.floats(0, 1))
def test_fused_scores_match_the_definitions(a, b, method, alpha):
    lists = {"bm25": a, "dense": b}
    weights = {"bm25": 1 - alpha, "dense": alpha}
    if method == "rrf":
        out = rrf(lists, weights=weights)
    else:
        out = linear(lists, weights, normalization=method)
    expected = _reference(lists, method, weights)
    assert {f.docid: f.score for f in out} == pytest.approx(expected, rel=1e-9, abs=1e-9)
    keys = [(-f.score, min(r for r, _ in f.sources.values()), f.docid) for f in out]
    assert keys == sorted(keys)  # ties: better best rank, then docid


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=50)
doc_id = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20
).filter(str.strip)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(doc_id, text, text), max_size=10), st.booleans())
def test_beir_reader_round_trip(tmp_path_factory, rows, gz):
    path = tmp_path_factory.mktemp("c") / ("c.jsonl.gz" if gz else "c.jsonl")
    lines = "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in rows)
    path.write_bytes(gzip.compress(lines.encode()) if gz else lines.encode())
    if not rows:
        return
    docs = list(read_corpus(path, "beir"))
    assert [d.docid for d in docs] == [i for i, _, _ in rows]
    assert [d.text for d in docs] == [f"{t} {x}" if t else x for _, t, x in rows]


tsv_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=50
).filter(str.strip)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(doc_id.filter(lambda s: "\t" not in s), tsv_text), min_size=1, max_size=10)
)
def test_msmarco_reader_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("m") / "collection.tsv"
    path.write_text("".join(f"{i}\t{x}\n" for i, x in rows), encoding="utf-8")
    docs = list(read_corpus(path, "msmarco"))
    assert [(d.docid, d.text) for d in docs] == list(rows)  # ids and text kept verbatim


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(doc_id, text, st.dictionaries(st.sampled_from("xyz"), st.integers())),
        min_size=1,
        max_size=10,
    )
)
def test_pyserini_reader_round_trip_keeps_extra_fields_as_metadata(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("p") / "docs.jsonl"
    lines = [json.dumps({"id": i, "contents": x, **extra}) for i, x, extra in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs = list(read_corpus(path, "pyserini"))
    assert [(d.docid, d.text) for d in docs] == [(i, x) for i, x, _ in rows]
    assert [d.metadata for d in docs] == [extra for _, _, extra in rows]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["beir", "msmarco", "pyserini", "jsonl"]))
def test_readers_never_crash_on_arbitrary_bytes(tmp_path_factory, data, fmt):
    """Any bytes either read as documents or fail with a CorpusError naming the line."""
    path = tmp_path_factory.mktemp("b") / "junk.jsonl"
    path.write_bytes(data)
    try:
        for doc in read_corpus(path, fmt):
            assert isinstance(doc.docid, str) and isinstance(doc.text, str)
    except CorpusError as exc:
        assert "junk.jsonl" in str(exc)
