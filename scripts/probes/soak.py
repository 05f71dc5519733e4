#!/usr/bin/env python
"""Concurrency soak: N readers and one writer against a running `lucene-hybrid serve`.

The writer upserts (and now and then deletes) batches whose every document carries its
version in its text, its metadata and its vector; readers fetch documents with their vectors and
search in every mode, and check that each document they see is one whole version. Prints a
JSON summary (throughput, latency percentiles, 5xx count, inconsistencies, server memory
before/after when --pid is given) and exits non-zero on any 5xx or inconsistency.

Example:
    lucene-hybrid serve --port 8000 &
    python scripts/probes/soak.py --url http://127.0.0.1:8000 --readers 8 --duration 300 --pid $!
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

DIM = 8


def vector(version: int) -> list[float]:
    """Encodes the version in the ratio of two components (which survives normalization)."""
    return [1.0, float(version), 0.25, 0, 0, 0, 0, 0]


def doc(docid: str, version: int) -> dict:
    return {
        "id": docid,
        "text": f"{docid} version{version} common words for every document",
        "metadata": {"v": version, "tags": [f"t{version % 5}"]},
        "vector": vector(version),
    }


def whole(d: dict, with_vector: bool) -> bool:
    """True when text, metadata (and vector) of a returned document are of one version."""
    v = d["metadata"]["v"]
    ok = d["text"].startswith(f"{d['id']} version{v} ") and d["metadata"]["tags"] == [f"t{v % 5}"]
    if with_vector:
        vec = d.get("vector")
        ok = ok and vec is not None and round(vec[1] / vec[0]) == v
    return bool(ok)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[int, int] = defaultdict(int)
        self.inconsistent: list[str] = []

    def record(self, op: str, ms: float, status: int) -> None:
        with self.lock:
            self.latency[op].append(ms)
            self.status[status] += 1

    def bad(self, what: str) -> None:
        with self.lock:
            if len(self.inconsistent) < 20:
                self.inconsistent.append(what)
            else:
                self.inconsistent.append("...")


def timed(client: httpx.Client, stats: Stats, op: str, path: str, body: dict) -> httpx.Response:
    t0 = time.perf_counter()
    r = client.post(path, json=body)
    stats.record(op, (time.perf_counter() - t0) * 1000, r.status_code)
    return r


def writer(url: str, coll: str, ids: list[str], stop: threading.Event, stats: Stats) -> None:
    rng = random.Random(1)
    version = 1
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            version += 1
            if rng.random() < 0.1:
                gone = rng.sample(ids, 5)
                timed(
                    client,
                    stats,
                    "delete",
                    f"/v1/collections/{coll}/documents/delete",
                    {"ids": gone},
                )
                continue
            batch = [doc(i, version) for i in rng.sample(ids, rng.randint(1, 50))]
            timed(
                client, stats, "upsert", f"/v1/collections/{coll}/documents", {"documents": batch}
            )


def reader(
    url: str, coll: str, ids: list[str], seed: int, stop: threading.Event, stats: Stats
) -> None:
    rng = random.Random(seed)
    base = f"/v1/collections/{coll}"
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            kind = rng.choice(["get", "bm25", "dense", "hybrid"])
            if kind == "get":
                r = timed(
                    client,
                    stats,
                    "get",
                    f"{base}/documents/get",
                    {"ids": rng.sample(ids, 20), "with_vectors": True},
                )
                docs = r.json().get("documents", []) if r.status_code == 200 else []
                with_vector = True
            else:
                body = {
                    "query": f"version{rng.randint(1, 50)} common",
                    "mode": kind,
                    "k": 20,
                    "vector": vector(rng.randint(1, 500)),
                }
                if kind == "bm25":
                    body.pop("vector")
                r = timed(client, stats, f"search_{kind}", f"{base}/search", body)
                docs = r.json().get("hits", []) if r.status_code == 200 else []
                with_vector = False
            for d in docs:
                if not whole(d, with_vector):
                    stats.bad(f"{kind}: {json.dumps(d)[:300]}")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))], 2) if s else float("nan")


def soak(url: str, readers: int, duration: float, pid: int | None, docs: int = 500) -> dict:
    coll = f"soak{int(time.time())}"
    ids = [f"d{i}" for i in range(docs)]
    with httpx.Client(base_url=url, timeout=120) as client:
        r = client.post(
            "/v1/collections", json={"name": coll, "encoder": {"kind": "precomputed", "dim": DIM}}
        )
        r.raise_for_status()
        for start in range(0, docs, 250):
            client.post(
                f"/v1/collections/{coll}/documents",
                json={"documents": [doc(i, 1) for i in ids[start : start + 250]]},
            ).raise_for_status()

    def run(seconds: float, stats: Stats) -> float:
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(url, coll, ids, stop, stats))]
        threads += [
            threading.Thread(target=reader, args=(url, coll, ids, n, stop, stats))
            for n in range(readers)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    run(min(5.0, duration / 4), Stats())  # warm-up: JIT, heap growth, caches
    before = rss_mb(pid) if pid else None
    stats = Stats()
    wall = run(duration, stats)
    after = rss_mb(pid) if pid else None
    with httpx.Client(base_url=url, timeout=120) as client:
        client.delete(f"/v1/collections/{coll}")
    reads = [ms for op, v in stats.latency.items() if op != "upsert" and op != "delete" for ms in v]
    writes = stats.latency["upsert"] + stats.latency["delete"]
    return {
        "readers": readers,
        "seconds": round(wall, 1),
        "requests": sum(stats.status.values()),
        "status_counts": dict(sorted(stats.status.items())),
        "server_errors": sum(n for s, n in stats.status.items() if s >= 500),
        "inconsistent": stats.inconsistent,
        "reads_per_s": round(len(reads) / wall, 1),
        "writes_per_s": round(len(writes) / wall, 1),
        "read_ms": {p: pct(reads, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "write_ms": {p: pct(writes, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "per_op_p99_ms": {op: pct(v, 99) for op, v in sorted(stats.latency.items())},
        "rss_mb_before": round(before, 1) if before else None,
        "rss_mb_after": round(after, 1) if after else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--readers", type=int, default=8)
    p.add_argument("--duration", type=float, default=60, help="seconds of measured load")
    p.add_argument("--pid", type=int, default=None, help="server pid, to report its memory")
    p.add_argument("--docs", type=int, default=500)
    args = p.parse_args()
    result = soak(args.url, args.readers, args.duration, args.pid, args.docs)
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["server_errors"] or result["inconsistent"] else 0)


if __name__ == "__main__":
    main()
