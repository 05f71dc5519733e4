#!/usr/bin/env python
"""A corpus as one index and as a 4-shard collection behind `serve --ray`, every mode's run
compared.

Starts `lucene-hybrid serve --ray` (on a two-node Ray cluster on loopback that it starts, or on
the cluster at ``--ray ADDRESS``) with two collections: "one" (the built index, in the server's
process) and "four" (4 shard actors). Without ``--built``, "four" is created empty and both are
filled through the REST upserts with the texts, metadata and vectors stored in the index; with
``--built DIR``, "four" is the collection `index --shards 4` built in DIR and "one" the index
itself, both attached as they are. Then every topic of each TOPICS QRELS pair runs in bm25,
dense and hybrid mode (k=100) through both, and it prints per mode whether the two runs are
identical (docids, ranks, scores to 4 decimals), nDCG@10 of each, and the HTTP p50.

Examples:
    lucene-hybrid index ../shared/data/beir-scifact/corpus.jsonl --index /tmp/scifact
    python scripts/probes/shard_eval.py scifact /tmp/scifact \
        ../shared/data/beir-scifact/anserini/topics.beir-v1.0.0-scifact.test.tsv.gz \
        ../shared/data/beir-scifact/anserini/qrels.beir-v1.0.0-scifact.test.txt

    lucene-hybrid index ../shared/data/msmarco-passage/dl-pool/collection.tsv --index /tmp/dl
    lucene-hybrid index ../shared/data/msmarco-passage/dl-pool/collection.tsv \
        --index /tmp/dl-4 --shards 4 --ray auto
    python scripts/probes/shard_eval.py dl-pool /tmp/dl --built /tmp/dl-4 --ray auto \
        ../shared/data/msmarco-passage/dl-pool/queries.dl19.tsv \
        ../shared/data/msmarco-passage/anserini/qrels.dl19-passage.txt \
        ../shared/data/msmarco-passage/dl-pool/queries.dl20.tsv \
        ../shared/data/msmarco-passage/anserini/qrels.dl20-passage.txt
"""

import argparse
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

ap = argparse.ArgumentParser()
ap.add_argument("name")
ap.add_argument("index")
ap.add_argument("pairs", nargs="+", help="TOPICS QRELS, one pair or more")
ap.add_argument("--built", default=None, help="a collection built by index --shards 4")
ap.add_argument("--ray", default=None, help="a running cluster's address (default: start one)")
args = ap.parse_args()
cluster = None
address = args.ray
if address is None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    address = cluster.address
data = Path(f"/tmp/shard-eval-{args.name}")
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
attach = ["--collection", f"one={args.index}", "--collection", f"four={args.built}"]
srv = Server(data / "data", None, "--ray", address, *(attach if args.built else []), env=env)
srv.start(timeout=600)


def fill(c: httpx.Client) -> None:
    """Both collections through the REST upserts, with the index's texts and vectors."""
    s = open_index(args.index, load_query_encoder=False)
    docs = [
        {"id": d.id, "text": d.text, "metadata": d.metadata, "vector": d.vector.tolist()}
        for batch in documents(s, 500)
        for d in batch
    ]
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


def compare(c: httpx.Client, topics: str, qrels_file: str) -> None:
    opener = gzip.open if topics.endswith(".gz") else open
    with opener(topics, "rt") as f:
        queries = [ln.split("\t", 1) for ln in f.read().splitlines()]
    qrels: dict[str, dict[str, int]] = {}
    for ln in Path(qrels_file).read_text().splitlines():
        q, _, d, rel = ln.split()
        qrels.setdefault(q, {})[d] = int(rel)
    queries = [(q, text) for q, text in queries if q in qrels]
    qrels = {q: qrels[q] for q, _ in queries}
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
            f"{args.name} {Path(topics).name} {mode}: queries {len(queries)}, "
            f"rows {len(runs['one'][1])}, identical run: {same}, "
            f"nDCG@10 one {nd['one']:.4f} four {nd['four']:.4f}, "
            f"HTTP p50 ms one {lat['one']:.2f} four {lat['four']:.2f}",
            flush=True,
        )


try:
    client = httpx.Client(base_url=srv.url, timeout=600)
    if not args.built:
        fill(client)
    for i in range(0, len(args.pairs), 2):
        compare(client, args.pairs[i], args.pairs[i + 1])
finally:
    srv.stop()
    if cluster is not None:
        cluster.shutdown()
