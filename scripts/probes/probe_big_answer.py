"""Ask a running server for one search batch whose hits carry ~0.9 GB of stored text, and
print its status, time, answer size and the server's peak resident memory meanwhile.

    lucene-hybrid serve --port 8111 --data-dir /tmp/big &
    python scripts/probes/probe_big_answer.py --url http://127.0.0.1:8111 --pid <server pid>

Run it against a server with the default `max_response_chars` (a 422, read no further) and
one started with LUCENE_HYBRID_LIMITS__MAX_RESPONSE_CHARS=1000000000000 (the whole answer).
The first run writes collection `big`: 500 documents of ~180,000 characters (vectors given).
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request

from lucene_hybrid.bench.common import vm_kib


def call(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8111")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    args = ap.parse_args()
    coll = f"{args.url}/v1/collections/big"
    if call(coll)[0] == 404:
        body = {"name": "big", "encoder": {"kind": "precomputed", "dim": 8}}
        call(f"{args.url}/v1/collections", body)
        rng = random.Random(0)
        words = [f"w{i}" for i in range(2000)]
        for b in range(4):
            docs = [
                {
                    "id": f"d{b}-{i}",
                    "text": " ".join(rng.choices(words, k=33_000))[:199_000],
                    "vector": [rng.random() for _ in range(8)],
                }
                for i in range(125)
            ]
            status, _ = call(f"{coll}/documents", {"documents": docs})
            assert status == 200, status
    before = peak = vm_kib(args.pid, "VmRSS") * 1024
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, vm_kib(args.pid, "VmRSS") * 1024)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    searches = [{"query": f"w{i} w{i + 1}", "mode": "bm25", "k": 500} for i in range(10)]
    t0 = time.perf_counter()
    status, answer = call(f"{coll}/search/batch", {"searches": searches})
    took = time.perf_counter() - t0
    done.set()
    watcher.join()
    print(
        f"status {status} in {took:.1f} s, answer {len(answer) / 1e6:.0f} MB, "
        f"server resident {before / 1e9:.2f} GB before, {peak / 1e9:.2f} GB at peak"
    )
    if status != 200:
        print(answer.decode()[:300])


if __name__ == "__main__":
    main()
