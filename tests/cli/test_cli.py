"""The `lucene-hybrid` console script end to end: index an MS MARCO tsv.gz, search, run files."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("lucene-hybrid"))]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def msmarco_index(tmp_path_factory, demo_corpus) -> Path:
    """The demo corpus rewritten as an MS MARCO collection.tsv.gz, indexed through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    rows = [json.loads(line) for line in demo_corpus.read_text().splitlines()]
    with gzip.open(root / "collection.tsv.gz", "wt") as fh:
        for i, r in enumerate(rows):
            fh.write(f"{i}\t{r['title']}. {r['text']}\n")
    (root / "ids.json").write_text(json.dumps({r["_id"]: str(i) for i, r in enumerate(rows)}))
    out = run("index", str(root / "collection.tsv.gz"), "--index", str(root / "idx"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert f"indexed {len(rows)} documents" in out.stdout
    assert "encode" in out.stdout and "docs/s" in out.stdout
    return root


def test_topics_to_trec_run_in_every_mode(msmarco_index):
    ids = json.loads((msmarco_index / "ids.json").read_text())
    topics = msmarco_index / "queries.tsv"
    topics.write_text("q1\tsourdough wild yeast starter\nq2\tgravity of the moon and the sea\n")
    for mode in ("bm25", "dense", "hybrid"):
        run_file = msmarco_index / f"{mode}.trec"
        out = run(
            "search",
            "--index",
            str(msmarco_index / "idx"),
            "--topics",
            str(topics),
            "--output",
            str(run_file),
            "--mode",
            mode,
            "-k",
            "5",
        )
        assert out.returncode == 0, out.stderr
        lines = [line.split() for line in run_file.read_text().splitlines()]
        assert all(len(p) == 6 and p[1] == "Q0" for p in lines)
        for qid, expected in (("q1", ids["bread"]), ("q2", ids["tides"])):
            rows = [p for p in lines if p[0] == qid]
            # BM25 returns only documents sharing a term with the query; the others return k.
            assert 1 <= len(rows) <= 5 and (mode == "bm25" or len(rows) == 5)
            assert [int(p[3]) for p in rows] == list(range(1, len(rows) + 1))
            scores = [float(p[4]) for p in rows]
            assert scores == sorted(scores, reverse=True)
            assert rows[0][2] == expected, (mode, qid, rows)
        assert lines[0][5] == f"lucene-hybrid-{mode}" + ("-linear" if mode == "hybrid" else "")


def test_single_query_prints_table_with_provenance(msmarco_index):
    ids = json.loads((msmarco_index / "ids.json").read_text())
    out = run(
        "search",
        "--index",
        str(msmarco_index / "idx"),
        "--json",
        "-k",
        "3",
        "how do plants turn light into sugar",
    )
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert hits[0]["docid"] == ids["photosynthesis"]
    assert hits[0]["text"].startswith("Photosynthesis.")
    assert {"bm25_rank", "bm25_score", "dense_rank", "dense_score"} <= hits[0].keys()
    table = run("search", "--index", str(msmarco_index / "idx"), "-k", "2", "photosynthesis")
    assert table.returncode == 0 and ids["photosynthesis"] in table.stdout


def test_errors_exit_2_with_a_message(msmarco_index, tmp_path):
    out = run(
        "index", str(msmarco_index / "collection.tsv.gz"), "--index", str(msmarco_index / "idx")
    )
    assert out.returncode == 2 and "--overwrite" in out.stderr
    out = run(
        "search", "--index", str(msmarco_index / "idx"), "--encoder", "intfloat/e5-small-v2", "x"
    )
    assert out.returncode == 2 and "was built with encoder" in out.stderr
    out = run("search", "--index", str(tmp_path), "x")
    assert out.returncode == 2 and "not a lucene-hybrid index" in out.stderr
    out = run("search", "--index", str(msmarco_index / "idx"), "-k", "0", "x")
    assert out.returncode == 2 and "k must be between" in out.stderr


def test_demo_command(tmp_path):
    out = run("demo", "--data-dir", str(tmp_path), "sourdough bread")
    assert out.returncode == 0, out.stderr
    assert "bread" in out.stdout and (tmp_path / "demo" / "manifest.json").is_file()
    shutil.rmtree(tmp_path / "demo")
