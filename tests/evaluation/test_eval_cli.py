"""`lucene-hybrid eval` and `fuse` end to end, and indexes built by Pyserini's own indexer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import SearchParamError, SearchParams

CLI = [str(Path(sys.executable).with_name("lucene-hybrid"))]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_eval_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    (root / "topics.tsv").write_text(
        "1\twhich star pulls the sea up and down\n2\tsourdough starter\n"
        "3\tfusing keyword and vector results\n4\tmarathon tapering\n"
    )
    (root / "qrels.txt").write_text(
        "1 0 tides 1\n2 0 bread 2\n3 0 rrf 1\n3 0 hybrid 2\n4 0 marathon 1\n"
    )
    return root


def test_eval_command_writes_runs_report_and_plot(demo_index, demo_eval_files, tmp_path):
    out = tmp_path / "report"
    r = run(
        "eval",
        "--index",
        str(demo_index),
        "--topics",
        str(demo_eval_files / "topics.tsv"),
        "--qrels",
        str(demo_eval_files / "qrels.txt"),
        "-k",
        "100",
        "--sweep",
        "--configs",
        "bm25,dense,rrf,linear:alpha=0.3",
        "--output-dir",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "configuration" in r.stdout and "sweep zscore alpha" in r.stdout
    report = json.loads((out / "report.json").read_text())
    assert [row["name"] for row in report["rows"]] == ["bm25", "dense", "rrf", "linear:alpha=0.3"]
    assert report["queries"] == 4 and set(report["sweep"]) == {
        "rrf k",
        "minmax alpha",
        "zscore alpha",
        "rrf depth",
    }
    assert 0.0 <= report["rows"][2]["mean"]["nDCG@10"] <= 1.0
    assert (out / "report.png").stat().st_size > 10_000
    assert "| rrf |" in (out / "report.md").read_text()
    runs = sorted(p.name for p in out.glob("run.*.trec"))
    assert runs == ["run.bm25.trec", "run.dense.trec", "run.linear_alpha0.3.trec", "run.rrf.trec"]
    # fuse our own bm25 and dense runs (100 deep, like the rrf configuration's candidates):
    # RRF of the two files ranks like the rrf configuration
    fused = tmp_path / "fused.trec"
    r = run(
        "fuse",
        str(out / "run.bm25.trec"),
        str(out / "run.dense.trec"),
        "--output",
        str(fused),
        "--qrels",
        str(demo_eval_files / "qrels.txt"),
        "-k",
        "10",
    )
    assert r.returncode == 0, r.stderr
    assert "nDCG@10" in r.stdout

    def top(path):
        rows = [line.split() for line in path.read_text().splitlines()]
        return {q: [d for qq, _, d, *_ in rows if qq == q][:3] for q in ("1", "2", "3", "4")}

    assert top(fused) == top(out / "run.rrf.trec")


def test_index_built_by_pyserinis_own_indexer(demo_corpus, tmp_path, pyserini, demo_eval_files):
    index = tmp_path / "pyserini-index"
    indexer = pyserini.LuceneIndexer(str(index), threads=1)
    for line in demo_corpus.read_text().splitlines():
        row = json.loads(line)
        indexer.add_doc_dict({"id": row["_id"], "contents": f"{row['title']} {row['text']}"})
    indexer.close()

    searcher = open_index(index)
    ours = searcher.search("moon gravity tides", SearchParams(mode="bm25", k=5, fetch_docs=False))
    theirs = pyserini.LuceneSearcher(str(index)).search("moon gravity tides", k=5)
    assert [h.docid for h in ours] == [h.docid for h in theirs] and ours[0].docid == "tides"
    with pytest.raises(SearchParamError, match="BM25-only"):
        searcher.search("moon", SearchParams(mode="hybrid"))
    searcher.close()
    r = run(
        "eval",
        "--index",
        str(index),
        "--topics",
        str(demo_eval_files / "topics.tsv"),
        "--qrels",
        str(demo_eval_files / "qrels.txt"),
        "--configs",
        "bm25",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert r.returncode == 0, r.stderr
    assert "bm25" in r.stdout
