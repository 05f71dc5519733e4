"""Create collections on a running server, one small write each, until it refuses one or N are
made; print every 50 the server's resident memory, open files and threads, then what refused.

    ulimit -n 1024  # both limits: the server cannot raise its own past this
    LUCENE_HYBRID_DEMO_COLLECTION=false lucene-hybrid serve --port 8123 --data-dir /tmp/many &
    python scripts/probes/probe_many_collections.py --url http://127.0.0.1:8123 --pid <server pid>

With the file budget the server refuses a collection (507 too_many_open_files) while writes still
have files; without it (before commit fa36607), at a limit of 1,024, the 331st collection's first
write failed for want of a file, and so did the next write to the first collection.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request

from lucene_hybrid.bench.common import vm_kib


def call(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8123")
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("-n", type=int, default=2000, help="collections to make at most")
    args = ap.parse_args()
    start = time.perf_counter()
    for i in range(args.n):
        status, answer = call(f"{args.url}/v1/collections", {"name": f"many{i}"})
        if status == 201:
            doc = {"id": "a", "text": f"collection {i}: a note about moons"}
            status, answer = call(
                f"{args.url}/v1/collections/many{i}/documents", {"documents": [doc]}
            )
        if status != 200:
            error = answer["error"]
            print(f"collection {i + 1}: {status} {error['type']}: {error['message']}")
            return
        if (i + 1) % 50 == 0:
            files = len(os.listdir(f"/proc/{args.pid}/fd"))
            threads = len(os.listdir(f"/proc/{args.pid}/task"))
            rss = vm_kib(args.pid, "VmRSS") // 1024
            took = time.perf_counter() - start
            print(
                f"{i + 1} collections, {took:.1f} s: RSS {rss} MB, {files} files, {threads} threads"
            )
    print(f"{args.n} collections made, none refused")


if __name__ == "__main__":
    main()
