"""The sharding benchmarks end to end at a small size: `bench scale --corpus-only` writes a
corpus with vectors, `bench build --keep` builds it in one process and in shards on the test
cluster, and `bench cluster --built` serves those builds with dense recall against exact search
beside Chroma."""

from __future__ import annotations

import json
from pathlib import Path

from lucene_hybrid.cli.main import main

QUERIES = Path(__file__).resolve().parents[1] / "data" / "tiny_queries.tsv"


def test_built_collections_are_measured_with_their_recall(ray_cluster, demo_corpus, tmp_path):
    assert main(["bench", "scale", "--corpus", str(demo_corpus), "--sizes", "600",
                 "--work", str(tmp_path / "corpora"), "--corpus-only"]) == 0  # fmt: skip
    corpus = tmp_path / "corpora" / "corpus-600.jsonl"
    assert sum(1 for _ in corpus.open()) == 600

    builds = tmp_path / "builds"
    assert main(["bench", "build", "--corpus", str(corpus), "--work", str(builds),
                 "--shards", "1,2", "--keep", "--ray", ray_cluster.address,
                 "--index-args", "--encoder precomputed --dim 384",
                 "--output", str(tmp_path / "build")]) == 0  # fmt: skip
    built = json.loads((tmp_path / "build.json").read_text())["rows"]
    assert [(r["shards"], r["documents"]) for r in built] == [(1, 600), (2, 600)]
    assert len(built[1]["shard_index_s"]) == 2 and (builds / "shards-2" / "cluster.json").exists()

    out = tmp_path / "cluster"
    assert main(["bench", "cluster", "--index", str(builds / "shards-1"), "--topics", str(QUERIES),
                 "--work", str(tmp_path / "served"), "--shards", "",
                 "--built", f"1={builds / 'shards-1'}", "--built", f"2={builds / 'shards-2'}",
                 "--ray", ray_cluster.address, "--hash-queries", "--modes", "dense,hybrid",
                 "--concurrency", "1", "--ef-search", "50", "--chroma", "--shard-heap", "256m",
                 "--output", str(out)]) == 0  # fmt: skip
    result = json.loads(out.with_suffix(".json").read_text())
    served = {(r["collection"], r["mode"]) for r in result["rows"] if not r["errors"]}
    names = ("single", "shards-1", "shards-2")
    assert served == {(c, m) for c in names for m in ("dense", "hybrid")}
    recall = {(r["system"], r["ef_search"]): r["recall"] for r in result["recall"]}
    systems = {"one index, in process", "single", "shards-1", "shards-2"}
    # Chroma as it ships (its efSearch cannot be changed on a loaded collection)
    assert set(recall) == {(s, ef) for s in systems for ef in (None, 50)} | {
        ("chroma, in process", None)
    }
    assert all(0 < r <= 1 for r in recall.values())
    # 600 documents: `auto` searches them exactly, so every served default finds the same top 10
    # as numpy's exact scan, but for documents tied at the tenth place
    assert len({recall[(s, None)] for s in names}) == 1 and recall[("single", None)] >= 0.95
    router = {r["collection"]: r for r in result["router"]}
    assert set(router) == set(names) and router["single"]["over_single_ms"] == 0
    assert all(r["client_p50_ms"] > 0 for r in router.values())
    assert all(r["slowest_shard_p50_ms"] > 0 for n, r in router.items() if n != "single")
    assert "| dense search | efSearch | recall@10 |" in out.with_suffix(".md").read_text()
