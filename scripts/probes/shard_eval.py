#!/usr/bin/env python
"""A corpus as a 1-shard and a 4-shard collection behind `serve --ray`, every mode's run compared.

Starts a two-node Ray cluster on loopback and `lucene-hybrid serve --ray` on it, creates the
collections "one" (1 shard, in the server's process) and "four" (4 shard actors), fills both
through the REST upserts with the texts, metadata and vectors stored in a built index, runs
every test topic in bm25, dense and hybrid mode (k=100) through both, and prints per mode
whether the two runs are identical (docids, ranks, scores to 4 decimals), nDCG@10 of each, and
the HTTP p50.

Example:
    lucene-hybrid index ../shared/data/beir-scifact/corpus.jsonl --index /tmp/scifact
    python scripts/probes/shard_eval.py scifact /tmp/scifact \
        ../shared/data/beir-scifact/anserini/topics.beir-v1.0.0-scifact.test.tsv.gz \
        ../shared/data/beir-scifact/anserini/qrels.beir-v1.0.0-scifact.test.txt
"""

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytrec_eval

os.environ.update(
    {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "disabled",
        "RAY_DISABLE_FAILURE_SIGNAL_HANDLER": "1",
    }
)
from ray.cluster_utils import Cluster  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from serverproc import Server  # noqa: E402

from lucene_hybrid.bench.cluster import documents  # noqa: E402
from lucene_hybrid.search import open_index  # noqa: E402

name, idx, topics, qrels_file = sys.argv[1:5]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
cluster.add_node(num_cpus=2)
data = Path(f"/tmp/shard-eval-{name}")
subprocess.run(["rm", "-rf", str(data)])
data.mkdir()
env = {
    **{
        k: os.environ[k]
        for k in (
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
            "RAY_AUTH_MODE",
            "RAY_DISABLE_FAILURE_SIGNAL_HANDLER",
        )
    },
    "LUCENE_HYBRID_CLUSTER__SHARD_HEAP": "512m",
    "LUCENE_HYBRID_COMMIT_INTERVAL_S": "5",
}
srv = Server(data / "data", None, "--ray", cluster.address, env=env).start(timeout=600)
try:
    s = open_index(idx, load_query_encoder=False)
    docs = [
        {"id": d.id, "text": d.text, "metadata": d.metadata, "vector": d.vector.tolist()}
        for batch in documents(s, 500)
        for d in batch
    ]
    c = httpx.Client(base_url=srv.url, timeout=600)
    for coll, shards in (("one", 1), ("four", 4)):
        r = c.post("/v1/collections", json={"name": coll, "shards": shards})
        assert r.status_code == 201, r.text
        t = time.time()
        for i in range(0, len(docs), 500):
            r = c.post(f"/v1/collections/{coll}/documents", json={"documents": docs[i : i + 500]})
            assert r.status_code == 200, r.text
        print(
            coll,
            "filled",
            len(docs),
            f"{time.time() - t:.1f}s",
            c.get(f"/v1/collections/{coll}").json()["documents"],
            flush=True,
        )
    with gzip.open(topics, "rt") as f:
        queries = [ln.split("\t", 1) for ln in f.read().splitlines()]
    qrels: dict[str, dict[str, int]] = {}
    for ln in Path(qrels_file).read_text().splitlines():
        q, _, d, rel = ln.split()
        qrels.setdefault(q, {})[d] = int(rel)
    queries = [(q, text) for q, text in queries if q in qrels]
    for mode in ("bm25", "dense", "hybrid"):
        runs, lat = {}, {}
        for coll in ("one", "four"):
            run, rows, ms = {}, [], []
            for q, text in queries:
                t = time.perf_counter()
                hits = c.post(
                    f"/v1/collections/{coll}/search",
                    json={"query": text, "mode": mode, "k": 100, "include_text": False},
                ).json()["hits"]
                ms.append((time.perf_counter() - t) * 1000)
                run[q] = {h["id"]: h["score"] for h in hits}
                rows += [(q, h["id"], h["rank"], round(h["score"], 4)) for h in hits]
            runs[coll] = (run, rows)
            ms.sort()
            lat[coll] = ms[len(ms) // 2]
        same = runs["one"][1] == runs["four"][1]
        nd = {}
        for coll in ("one", "four"):
            ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(runs[coll][0])
            nd[coll] = sum(v["ndcg_cut_10"] for v in ev.values()) / len(qrels)
        print(
            f"{name} {mode}: queries {len(queries)}, rows {len(runs['one'][1])}, "
            f"identical run: {same}, nDCG@10 one {nd['one']:.4f} four {nd['four']:.4f}, "
            f"HTTP p50 ms one {lat['one']:.2f} four {lat['four']:.2f}",
            flush=True,
        )
finally:
    srv.stop()
    cluster.shutdown()
