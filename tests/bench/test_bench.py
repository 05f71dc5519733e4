"""The benchmark suite writes its tables; hybrid's concurrent halves change no result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lucene_hybrid.cli.main import main
from lucene_hybrid.evaluation.formats import read_topics
from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import SearchParams

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
    for way in ("concurrent", "in sequence"):
        expected |= {(f"hybrid, halves always {way}", "vector", n) for n in (1, 2)}
    # the yardstick for hybrid with text: both measured alternately, query by query
    expected |= {("query encoding only", "text", 1)}
    expected |= {("hybrid, alternating with encoding only", "text", 1)}
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
                ranked = []
                for way in (True, False, None):  # concurrent, in sequence, adaptive
                    searcher.parallel_retrieval = way
                    ranked.append(searcher.search(query, params))
                assert ranked[0] == ranked[1] == ranked[2]
    finally:
        searcher.close()


QRELS = Path(__file__).resolve().parents[1] / "data" / "tiny_qrels.txt"


def test_bench_peers_load_the_same_vectors_and_agree_with_exact_search(demo_index, tmp_path):
    out = tmp_path / "peers"
    rc = main(
        [
            "bench", "peers", "--index", str(demo_index), "--topics", str(QUERIES),
            "--qrels", str(QRELS), "--threads", "2", "--rounds", "2", "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["documents"] == 30 and result["rounds"] == 2
    rows = {(r["system"], r["mode"]): r for r in result["rows"]}
    assert set(rows) == {
        ("lucene-hybrid", "dense (auto: exact)"),  # 30 documents: the in-memory exact search
        ("lucene-hybrid", "dense (HNSW)"),  # and the graph, as Chroma searches
        ("lucene-hybrid", "hybrid (auto: exact)"),
        ("lucene-hybrid", "hybrid (HNSW)"),
        ("chroma", "dense"),
        ("qdrant", "dense"),
        ("lancedb", "dense"),
        ("lancedb", "hybrid (native RRF)"),
    }
    judged = len({line.split()[0] for line in QRELS.read_text().splitlines()})
    for r in rows.values():
        assert r["queries"] == judged
        assert 0 < r["p50_ms"] <= r["p95_ms"] and r["qps"] > 0
        assert 0 <= r["ndcg_at_10"] <= 1
    # 30 documents: HNSW is exact here, so every dense system ranks the same way and scores
    # the same nDCG@10 from the same vectors; the hybrids add BM25 and differ from dense.
    dense = [("lucene-hybrid", "dense (auto: exact)"), ("lucene-hybrid", "dense (HNSW)")]
    dense += [(s, "dense") for s in ("chroma", "qdrant", "lancedb")]
    assert len({rows[key]["ndcg_at_10"] for key in dense}) == 1
    assert "| chroma | dense |" in out.with_suffix(".md").read_text()


def test_bench_peers_rejects_an_unknown_peer(demo_index, capsys):
    rc = main(
        [
            "bench", "peers", "--index", str(demo_index), "--topics", str(QUERIES),
            "--peers", "chroma,milvus",
        ]
    )  # fmt: skip
    assert rc == 2
    assert "milvus" in capsys.readouterr().err
    args = ["bench", "peers", "--index", str(demo_index), "--topics", str(QUERIES)]
    assert main([*args, "--rounds", "0"]) == 2
    assert "--rounds" in capsys.readouterr().err


def test_bench_encode_reports_forward_and_pipeline_per_precision(demo_corpus, tmp_path):
    out = tmp_path / "encode"
    rc = main(
        [
            "bench", "encode", "--corpus", str(demo_corpus), "--limit", "24",
            "--precisions", "fp32,bf16,int8", "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert (result["tokenizer"], result["tokenize_workers"]) == ("nanotoken", 0)
    rows = {r["precision"]: r for r in result["rows"]}
    assert set(rows) == {"fp32", "bf16", "int8"}
    for r in rows.values():
        assert r["documents"] == 24
        assert r["forward_docs_s"] > 0 and r["pipeline_docs_s"] > 0
        # the tokenizer alone and sentence-transformers' encode() are timed beside them
        assert r["tokenize_docs_s"] > r["pipeline_docs_s"] and r["st_encode_docs_s"] > 0
        # the share is of the unrounded rates: equal to the rounded ones' ratio within rounding
        ratio = r["pipeline_docs_s"] / r["forward_docs_s"]
        assert abs(r["pipeline_share"] - ratio) < 0.002 + 0.15 / r["forward_docs_s"]
        # where the pipeline's time went: on a CPU mostly the model's forward
        split = r["pipeline_split"]
        assert list(split) == ["waiting", "launching", "finishing", "other"]
        assert abs(sum(split.values()) - 1) < 0.01 and split["launching"] > 0.5
    assert rows["fp32"]["cosine_to_fp32"] is None
    # bf16 keeps the vectors; int8 moves them, but they still point the same way
    assert rows["bf16"]["cosine_to_fp32"] > 0.99
    assert 0.8 < rows["int8"]["cosine_to_fp32"] < 0.99999


def test_index_report_has_every_stage(demo_corpus, tmp_path):
    report = tmp_path / "report" / "demo"
    index = tmp_path / "demo"
    args = ["index", str(demo_corpus), "--index", str(index), "--quiet", "--report", str(report)]
    rc = main(args)
    assert rc == 0
    result = json.loads(report.with_suffix(".json").read_text())
    assert result["documents"] == 30 and result["precision"] == "auto"
    assert {"read", "encode", "bm25_index", "hnsw_index", "total"} <= set(result["stages"])
    for stage in result["stages"].values():
        assert stage["seconds"] >= 0
    assert result["stages"]["encode"]["docs_s"] > 0
    # where the encode stage's time went: on a CPU the model's forward is most of it
    split = result["encode_split"]
    assert list(split) == ["waiting", "launching", "finishing", "other"]
    assert abs(sum(split.values()) - 1) < 0.01 and max(split, key=split.get) == "launching"
    assert result["index_mb"] > 0 and result["peak_rss_mb"] > 0
    md = report.with_suffix(".md").read_text()
    assert "| hnsw_index |" in md
    assert "encode stage time % waiting / launching / finishing / other" in md


def test_adaptive_halves_split_only_while_cores_are_spare(demo_index):
    searcher = open_index(demo_index, load_query_encoder=False)
    try:
        assert searcher.parallel_retrieval is None  # adaptive by default
        decisions = []
        for cores, in_flight in ((2, 1), (4, 1), (4, 2), (4, 3), (8, 4), (8, 5)):
            searcher._cores = cores  # noqa: SLF001 - the policy, at a given core count
            searcher._in_flight = in_flight  # noqa: SLF001 - this search plus the others
            decisions.append(searcher._split_halves())  # noqa: SLF001
        assert decisions == [True, True, True, False, True, False]
        searcher.parallel_retrieval = True
        assert searcher._split_halves()  # noqa: SLF001 - forced
        searcher._in_flight = 0  # noqa: SLF001
    finally:
        searcher.close()


def test_bench_scale_builds_each_size_and_times_every_mode(demo_corpus, tmp_path):
    from lucene_hybrid.bench.scale import hash_vectors, synthetic_documents

    sources = ["the moon pulls the ocean into tides", "lucene stores an inverted index"]
    docs = list(synthetic_documents(sources, 6))
    assert [d for d, _ in docs] == [f"d{i}" for i in range(6)]
    assert [t for _, t in docs[:2]] == sources  # the first copy is the source itself
    assert all(t.endswith(f"copy{i // 2}") for i, (_, t) in enumerate(docs) if i >= 2)
    v = hash_vectors([t for _, t in docs])
    assert np.allclose(np.linalg.norm(v, axis=1), 1) and np.array_equal(
        v, hash_vectors([t for _, t in docs])
    )
    assert float(v[0] @ v[2]) > float(v[0] @ v[1])  # a near-copy is nearer than another passage

    out = tmp_path / "scale"
    rc = main(
        [
            "bench", "scale", "--corpus", str(demo_corpus), "--topics", str(QUERIES),
            "--sizes", "900,90", "--work", str(tmp_path / "work"), "--limit", "10",
            "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    sizes = result["sizes"]
    assert [s["documents"] for s in sizes] == [90, 900]
    assert sizes[0]["index_mb"]["hnsw"] < sizes[1]["index_mb"]["hnsw"]
    for s in sizes:
        assert set(s["search"]) == {
            "bm25", "dense exact", "dense hnsw", "hybrid exact", "hybrid hnsw"
        }  # fmt: skip
        assert all(0 < m["p50_ms"] <= m["p99_ms"] for m in s["search"].values())
        assert 0 < s["hnsw_recall_at_10"] <= 1
        assert s["exact_copy"]["mb"] > 0
    assert not any((tmp_path / "work").iterdir())  # corpora and indexes cleaned up


def test_bench_encode_refuses_an_empty_run(demo_corpus, capsys):
    rc = main(["bench", "encode", "--corpus", str(demo_corpus), "--repeat", "0"])
    assert rc == 2
    assert "no text to encode" in capsys.readouterr().err


def test_gpu_simulation_script_reports_both_shares(tmp_path):
    """scripts/probes/simulate_gpu_encode.py drives the real tokenizer, reader and writer around a
    stand-in forward: it must run to the end and report a share in (0, 100 %] for each path."""
    import re
    import subprocess
    import sys

    collection = tmp_path / "collection.tsv"
    rng = np.random.default_rng(5)
    with open(collection, "w", encoding="utf-8") as fh:
        for i in range(700):
            words = " ".join("".join(rng.choice(list("abcdefgh"), 5)) for _ in range(30))
            fh.write(f"p{i}\t{words}\n")
    script = Path(__file__).resolve().parents[2] / "scripts" / "probes" / "simulate_gpu_encode.py"
    done = subprocess.run(
        [sys.executable, str(script), str(collection), "--forward", "200000"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    shares = re.findall(r"(\d+)% of the forward", done.stdout)
    assert len(shares) == 2, done.stdout
    assert all(0 < int(s) <= 100 for s in shares), done.stdout
    assert "(2,800 passages)" in done.stdout  # every passage, four times over


def test_bench_quantization_measures_every_format_on_a_copy(demo_index, tmp_path):
    """`bench quantization` rebuilds a copy of the index in each vectors format and measures
    each the same way; the index itself is left as it was. A quantized graph search reads less
    than the float32 one (the quantized copy instead of the floats), and every format finds the
    demo's handful of vectors exactly."""
    before = {p.name: p.stat().st_mtime_ns for p in (demo_index / "hnsw").iterdir()}
    out = tmp_path / "quant"
    rc = main(
        [
            "bench", "quantization", "--index", str(demo_index), "--topics", str(QUERIES),
            "--qrels", str(QUERIES.with_name("tiny_qrels.txt")), "--work", str(tmp_path / "w"),
            "--formats", "none,int4,bbq", "--threads", "2", "--output", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    result = json.loads(out.with_suffix(".json").read_text())
    rows = {r["quantization"]: r for r in result["rows"]}
    assert list(rows) == ["none", "int4", "bbq"]
    for r in rows.values():
        assert 0 < r["dense_p50_ms"] <= r["dense_p99_ms"]
        assert r["recall_at_10"] == 1.0  # 30 vectors: the graph is exhaustive
        assert 0 < r["dense_ndcg_at_10"] <= 1 and 0 < r["hybrid_ndcg_at_10"] <= 1
    assert rows["bbq"]["searched_mb"] < rows["int4"]["searched_mb"] < rows["none"]["searched_mb"]
    assert rows["none"]["hnsw_mb"] < rows["int4"]["hnsw_mb"]  # floats kept, for rescoring
    assert {p.name: p.stat().st_mtime_ns for p in (demo_index / "hnsw").iterdir()} == before
    assert "| int4 |" in out.with_suffix(".md").read_text()
