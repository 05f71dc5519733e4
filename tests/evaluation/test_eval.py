"""Evaluation: every topic/qrels format, metric wiring on a hand-checkable case, run fusion."""

from __future__ import annotations

import gzip
import json
import math
import re

import pytest

from lucene_hybrid.core.errors import CorpusError, LuceneHybridError
from lucene_hybrid.evaluation.experiment import Split, run_experiment
from lucene_hybrid.evaluation.formats import read_qrels, read_topics
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.evaluation.runfile import read_run
from lucene_hybrid.evaluation.runner import Config, fuse_runs
from lucene_hybrid.evaluation.significance import paired_test
from lucene_hybrid.search.types import Scored


def test_topic_formats(tmp_path):
    tsv = tmp_path / "q.tsv.gz"
    tsv.write_bytes(gzip.compress(b"1\tfirst\n2\tsecond one\n"))
    beir = tmp_path / "queries.jsonl"
    beir.write_text(json.dumps({"_id": "q7", "text": "seven", "metadata": {}}) + "\n")
    trec = tmp_path / "topics.robust"
    trec.write_text(
        "<top>\n<num> Number: 301\n<title> International Organized Crime\n\n<desc> Description:\n"
        "Identify organizations\n</top>\n<top>\n<num> 302\n<title>Poliomyelitis and Post-Polio\n"
        "<narr> Narrative:\nx\n</top>\n"
    )
    cacm = tmp_path / "topics.cacm.txt"
    cacm.write_text(
        "<DOC>\n<DOCNO> 1 </DOCNO>\n\n What articles exist\n which deal with TSS?\n</DOC>\n"
        "<DOC>\n<DOCNO> 2 </DOCNO>\n Pooch, U.\n</DOC>\n"
    )
    assert read_topics(tsv) == {"1": "first", "2": "second one"}
    assert read_topics(beir) == {"q7": "seven"}
    assert read_topics(trec) == {
        "301": "International Organized Crime",
        "302": "Poliomyelitis and Post-Polio",
    }
    assert read_topics(cacm) == {"1": "What articles exist which deal with TSS?", "2": "Pooch, U."}


def test_qrels_formats(tmp_path):
    trec = tmp_path / "qrels.txt"
    trec.write_text("1 0 d1 2\n1 0 d2 0\n2 Q0 d9 1\n")
    beir = tmp_path / "test.tsv"
    beir.write_text("query-id\tcorpus-id\tscore\n1\td1\t2\n1\td3\t1\n")
    assert read_qrels(trec) == {"1": {"d1": 2, "d2": 0}, "2": {"d9": 1}}
    assert read_qrels(beir) == {"1": {"d1": 2, "d3": 1}}
    bad = tmp_path / "bad.txt"
    bad.write_text("1 0 d1 2\n1 0 d2 x\n")
    with pytest.raises(CorpusError, match=":2:"):
        read_qrels(bad)


@pytest.mark.parametrize(
    ("reader", "text"),
    [
        pytest.param(read_topics, "1\tfirst\n2\tsecond\n", id="topics-tsv"),
        pytest.param(
            read_topics, json.dumps({"_id": "q7", "text": "seven"}) + "\n", id="topics-beir"
        ),
        pytest.param(
            read_topics, "<top>\n<num> Number: 301\n<title> Crime\n</top>\n", id="topics-trec"
        ),
        pytest.param(
            read_topics, "<DOC>\n<DOCNO> 1 </DOCNO>\n What articles\n</DOC>\n", id="topics-cacm"
        ),
        pytest.param(read_qrels, "1 0 d1 2\n2 Q0 d9 1\n", id="qrels-trec"),
        pytest.param(read_qrels, "query-id\tcorpus-id\tscore\n1\td1\t2\n", id="qrels-beir"),
        pytest.param(read_run, "q1 Q0 d1 1 2.5 t\n", id="run"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_a_byte_order_mark_starts_no_topic_judgment_or_run(tmp_path, reader, text, gz):
    """A file saved by a Windows tool starts with U+FEFF: it reads as the same file without it."""
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    for path, data in ((plain, text), (marked, "\ufeff" + text)):
        path.write_bytes(gzip.compress(data.encode()) if gz else data.encode())
    assert reader(marked) == reader(plain)


def test_metrics_on_a_hand_checked_case():
    qrels = {"q1": {"d1": 1, "d3": 1, "d4": 0}, "q2": {"d5": 1}}
    run = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}  # q2 retrieved nothing: counts as 0
    ev = evaluate(run, qrels, ("MAP", "nDCG@10", "R@100", "P@30", "MRR@10"))
    ap_q1 = (1 / 1 + 2 / 3) / 2
    ndcg_q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ev.per_query["MAP"] == pytest.approx({"q1": ap_q1, "q2": 0.0})
    assert ev.mean["MAP"] == pytest.approx(ap_q1 / 2)
    assert ev.mean["nDCG@10"] == pytest.approx(ndcg_q1 / 2)
    assert ev.mean["R@100"] == pytest.approx(0.5)
    assert ev.mean["P@30"] == pytest.approx(2 / 30 / 2)
    assert ev.mean["MRR@10"] == pytest.approx(0.5)


def test_mrr_is_cut_at_10_and_graded_levels():
    qrels = {"q": {"rel": 2, "weak": 1}}
    run = {"q": {f"x{i}": 100.0 - i for i in range(10)} | {"rel": 1.0}}  # rel at rank 11
    assert evaluate(run, qrels, ("MRR@10",)).mean["MRR@10"] == 0.0
    run2 = {"q": {"weak": 2.0, "rel": 1.0}}
    assert evaluate(run2, qrels, ("MRR@10",)).mean["MRR@10"] == 1.0
    assert evaluate(run2, qrels, ("MRR@10",), relevance_level=2).mean["MRR@10"] == 0.5


def test_fuse_runs_rrf_and_linear():
    a = {"q": {"d1": 10.0, "d2": 5.0}}
    b = {"q": {"d2": 0.9, "d3": 0.8}}
    rrf = fuse_runs([a, b], "rrf", 10, rrf_k=60)["q"]
    assert list(rrf) == ["d2", "d1", "d3"]
    assert rrf["d2"] == pytest.approx(1 / 62 + 1 / 61)
    lin = fuse_runs([a, b], "linear", 10, weights=[1, 3])["q"]
    assert list(lin)[0] == "d2"  # 0.25*0 + 0.75*1 beats d1's 0.25*1
    assert lin["d1"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"rrf_k": -1.0}, "rrf_k must be"),  # 1 / (k + rank) divided by zero at rank 1
        ({"rrf_k": math.nan}, "rrf_k must be"),
        ({"weights": [-1.0, 1.0]}, "non-negative"),
        ({"weights": [1e308, 1e308]}, "finite sum"),
        ({"k": 0}, "k must be at least 1"),
    ],
)
def test_fuse_runs_refuses_what_a_search_would(kwargs, why):
    a, b = {"q": {"d1": 1.0}}, {"q": {"d2": 1.0}}
    with pytest.raises(LuceneHybridError, match=why):
        fuse_runs([a, b], "rrf", **{"k": 10, **kwargs})


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("q1 Q0 d1 1 2.0 tag\ngarbage\n", ":2: expected 'qid Q0 docid rank score tag'"),
        ("q1 Q0 d1 1 nan tag\n", ":1: .*finite score"),
        ("q1 Q0 d1 1 1e999 tag\n", ":1: .*finite score"),
        ("q1 Q0 d1 1 high tag\n", ":1: .*finite score"),
        ("\n", "no results in this run file"),
    ],
)
def test_a_bad_run_file_is_refused_naming_the_line(tmp_path, text, why):
    path = tmp_path / "run.trec"
    path.write_text(text)
    with pytest.raises(CorpusError, match=why):
        read_run(path)
    with pytest.raises(CorpusError, match="no such run file"):
        read_run(tmp_path / "missing.trec")


def test_a_run_file_reads_as_scores_per_query(tmp_path):
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 d1 1 2.5 t\n\nq1 Q0 d2 2 -1e3 t\nq2 Q0 d1 1 7 t extra\n")
    assert read_run(path) == {"q1": {"d1": 2.5, "d2": -1000.0}, "q2": {"d1": 7.0}}


def test_config_parsing():
    c = Config.parse("rrf:k=20:w=1,2:depth=50")
    assert (c.mode, c.rrf_k, c.weights, c.depth) == ("hybrid", 20.0, (1.0, 2.0), 50)
    c = Config.parse("linear:alpha=0.7:norm=zscore")
    assert (c.fusion, c.alpha, c.normalization) == ("linear", 0.7, "zscore")
    with pytest.raises(Exception, match="bad parameter"):
        Config.parse("linear:k=3")


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("rrf:k=-1", "rrf_k must be a finite number >= 0"),  # 1 / (k + rank) divided by zero
        ("rrf:w=1e308,1e308", "finite sum"),
        ("rrf:w=-1,1", "non-negative"),
        ("linear:alpha=2", "alpha must be between 0 and 1"),
        ("rrf:depth=0", "depth must be between"),
    ],
)
def test_config_values_a_search_would_refuse_are_refused(spec, why):
    with pytest.raises(LuceneHybridError, match=f"^'{re.escape(spec)}': .*{why}"):
        Config.parse(spec)


class OneHitEach:
    """Candidates without an index: every topic's BM25 list is one document, d-<qid>."""

    has_dense = False

    def candidates(self, topics, depth, dense):
        return {q: {"bm25": [Scored(f"d-{q}", 1.0)]} for q in topics}


def test_topics_the_qrels_do_not_judge_are_refused_not_scored_zero(tmp_path, caplog):
    def run(qrels, **kw):
        split = Split("test", {"q1": "one", "q2": "two"}, qrels)
        return run_experiment(OneHitEach(), split, name="x", index="x", configs=["bm25"], **kw)

    with pytest.raises(LuceneHybridError, match=r"none of the 2 topics .* \['q9'\]"):
        run({"q9": {"d-q9": 1}})
    with pytest.raises(LuceneHybridError, match="k must be at least 1"):
        run({"q1": {"d-q1": 1}}, k=0)
    # a judged query without a topic scores 0, and is named in a warning
    result = run({"q1": {"d-q1": 1}, "q7": {"d-q7": 1}})
    assert result["queries"] == 2 and "q7" in caplog.text


def test_paired_test_counts_wins_and_losses():
    c = paired_test({"a": 1.0, "b": 0.5, "c": 0.2}, {"a": 0.5, "b": 0.5, "c": 0.4})
    assert (c.wins, c.losses, c.ties) == (1, 1, 1)
    assert c.delta == pytest.approx((0.5 + 0 - 0.2) / 3)
    same = paired_test({"a": 1.0}, {"a": 1.0})
    assert same.p_value == 1.0 and same.mark() == ""
