"""`lucene-hybrid bench http`: a served index on loopback under closed-loop load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lucene_hybrid.bench import http as bench_http
from lucene_hybrid.cli.main import main
from lucene_hybrid.evaluation.formats import read_topics

QUERIES = Path(__file__).resolve().parents[1] / "data" / "tiny_queries.tsv"


def test_bench_http_serves_an_index_and_writes_every_row(demo_index, tmp_path):
    index = tmp_path / "demo"
    shutil.copytree(demo_index, index)  # the server takes its write lock
    out = tmp_path / "http"
    rc = main(
        [
            "bench", "http", "--index", str(index), "--topics", str(QUERIES), "--limit", "25",
            "--concurrency", "1,3", "--jvm-heap", "256m", "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    rows = {(r["mode"], r["input"], r["concurrency"]): r for r in result["rows"]}
    expected = {("bm25", "text", c) for c in (1, 3)}
    expected |= {(m, i, c) for m in ("dense", "hybrid") for i in ("text", "vector") for c in (1, 3)}
    assert set(rows) == expected
    for r in rows.values():
        assert r["requests"] == 25 and r["errors"] == 0
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["qps"] > 0
    assert result["server_peak_rss_mb"] > 100  # the server's JVM and model, not the client's
    md = out.with_suffix(".md").read_text()
    assert "| hybrid | vector | 3 |" in md
    # the same searches in the benchmark's process, in blocks alternating with HTTP
    pairs = {(r["mode"], r["input"]): r for r in result["beside_in_process"]}
    assert set(pairs) == {k[:2] for k in expected}
    for r in pairs.values():
        assert r["requests"] == 25 and r["in_process_p50_ms"] > 0
        # the server's own time is part of each round trip, so its median is below the client's
        assert 0 < r["server_p50_ms"] < r["http_p50_ms"]
    assert "| hybrid | text | 25 |" in md


def test_failed_requests_are_counted_not_timed(demo_index, tmp_path):
    index = tmp_path / "demo"
    shutil.copytree(demo_index, index)
    queries = list(read_topics(QUERIES).values())[:10]
    with bench_http.serve(index, "demo", jvm_heap="256m") as (url, _):
        result = bench_http.run(url, "no-such-collection", queries, modes=["bm25"], concurrency=[2])
        ok = bench_http.run(url, "demo", queries, modes=["bm25"], concurrency=[2])
    (row,) = result["rows"]
    assert row["errors"] == 10 and row["qps"] == 0 and row["p50_ms"] is None
    assert ok["rows"][0]["errors"] == 0
