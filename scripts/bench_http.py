#!/usr/bin/env python
"""Single-client HTTP latency of one search mode against a running `lucene-hybrid serve`.

Example:
    lucene-hybrid serve --collection scifact=/tmp/scifact &
    python scripts/bench_http.py --collection scifact \
        --topics ../shared/data/beir-scifact/anserini/topics.beir-v1.0.0-scifact.test.tsv.gz
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from lucene_hybrid.server.evaluation.formats import read_topics


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--collection", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--mode", default="hybrid", choices=["bm25", "dense", "hybrid"])
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--limit", type=int, default=300, help="queries to send")
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()

    queries = list(read_topics(args.topics).values())[: args.limit]
    url = f"{args.url}/v1/collections/{args.collection}/search"
    latencies = []
    with httpx.Client(timeout=30) as client:
        for q in queries[: args.warmup]:
            client.post(url, json={"query": q, "mode": args.mode, "k": args.k}).raise_for_status()
        start = time.perf_counter()
        for q in queries:
            t0 = time.perf_counter()
            client.post(url, json={"query": q, "mode": args.mode, "k": args.k}).raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    print(
        f"{args.mode} over HTTP, {len(latencies)} queries, 1 client, k={args.k}: "
        f"p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, "
        f"mean {statistics.mean(latencies):.1f} ms, {len(latencies) / wall:.1f} q/s"
    )


if __name__ == "__main__":
    main()
