"""`lucene-hybrid bench search` writes its tables; hybrid's concurrent halves change no result."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lucene_hybrid.server.cli import main
from lucene_hybrid.server.evaluation.formats import read_topics
from lucene_hybrid.server.hybrid import open_index
from lucene_hybrid.server.types import SearchParams

QUERIES = Path(__file__).resolve().parents[1] / "data" / "tiny_queries.tsv"


def test_bench_search_writes_json_and_markdown(demo_index, tmp_path, capsys):
    out = tmp_path / "bench" / "demo"
    rc = main(
        [
            "bench", "search", "--index", str(demo_index), "--topics", str(QUERIES),
            "--limit", "12", "--threads", "1,2", "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["documents"] == 30
    rows = {(r["mode"], r["input"], r["threads"]): r for r in result["rows"]}
    expected = {("bm25", "text", n) for n in (1, 2)}
    expected |= {(m, i, n) for m in ("dense", "hybrid") for i in ("text", "vector") for n in (1, 2)}
    other = "in sequence" if (os.cpu_count() or 1) >= 4 else "concurrent"
    expected |= {(f"hybrid, halves {other}", "vector", n) for n in (1, 2)}
    assert set(rows) == expected
    for r in rows.values():
        assert r["queries"] == 12
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["qps"] > 0
    assert set(rows[("hybrid", "text", 1)]["stages_p50_ms"]) >= {"encode_ms", "bm25_ms", "dense_ms"}
    assert "encode_ms" not in rows[("hybrid", "vector", 1)]["stages_p50_ms"]
    table = out.with_suffix(".md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row
    assert "| hybrid | vector | 2 |" in table
    assert str(out.with_suffix(".md")) in capsys.readouterr().out


def test_concurrent_halves_give_the_same_hybrid_ranking(demo_index, minilm):
    searcher = open_index(demo_index, encoder=minilm)
    try:
        for fusion in ("rrf", "linear"):
            params = SearchParams(mode="hybrid", k=10, fusion=fusion)
            for query in read_topics(QUERIES).values():
                searcher.parallel_retrieval = True
                together = searcher.search(query, params)
                searcher.parallel_retrieval = False
                apart = searcher.search(query, params)
                assert together == apart
    finally:
        searcher.close()
