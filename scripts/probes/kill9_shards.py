#!/usr/bin/env python
"""SIGKILL shard processes of a sharded collection under a write load, then compare.

Starts a two-node Ray cluster on loopback, a collection of 3 shards (precomputed 8-dim
vectors: no model, so the load is all writes), and one writer that upserts batches (each
document's text carries its version) and now and then deletes some, retrying a batch that
fails with ShardUnavailable as a client would. Meanwhile it SIGKILLs a shard process
``--kills`` times. Then it compares the collection with what was acknowledged: every
acknowledged upsert present in its last acknowledged version, every acknowledged delete absent.
Prints a JSON summary and exits non-zero on any difference.

Example:
    python scripts/probes/kill9_shards.py --kills 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

os.environ.update(
    {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "disabled",
        "RAY_DISABLE_FAILURE_SIGNAL_HANDLER": "1",
    }
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--every", type=float, default=4.0, help="seconds between kills")
    ap.add_argument("--ids", type=int, default=2000, help="distinct document ids written")
    args = ap.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from lucene_hybrid.cluster import ShardedCollection, ShardUnavailable, connect_ray
    from lucene_hybrid.indexing.encoders import EncoderSpec
    from lucene_hybrid.server import DocIn

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    connect_ray(cluster.address)
    folder = tempfile.mkdtemp(prefix="kill9-shards-")
    spec = EncoderSpec(kind="precomputed", model="precomputed", dim=8)
    coll = ShardedCollection.open(
        "kill9", folder, shards=3, encoder_spec=spec, heap="256m", commit_interval_s=0.5
    )
    truth: dict[str, int | None] = {}  # acknowledged state: version, or None once deleted
    stats = {"batches_acked": 0, "docs_acked": 0, "deletes_acked": 0, "retries": 0}
    stop = threading.Event()
    rng = random.Random(7)

    def until_acknowledged(call, batch) -> None:
        """As a client does: retry a batch that a shard did not answer in time."""
        while True:
            try:
                call(batch)
                return
            except ShardUnavailable:
                stats["retries"] += 1
                time.sleep(0.2)

    def write() -> None:
        version = 0
        while not stop.is_set():
            version += 1
            ids = rng.sample(range(args.ids), 50)
            if version % 10 == 0:
                gone = [f"d{i}" for i in ids[:10]]
                until_acknowledged(coll.delete, gone)
                for d in gone:
                    truth[d] = None
                stats["deletes_acked"] += len(gone)
                continue
            docs = [
                DocIn(
                    id=f"d{i}",
                    text=f"document {i} version {version}",
                    metadata={"v": version},
                    vector=[rng.random() + 0.01 for _ in range(8)],
                )
                for i in ids
            ]
            until_acknowledged(coll.upsert, docs)
            for d in docs:
                truth[d.id] = version
            stats["batches_acked"] += 1
            stats["docs_acked"] += len(docs)

    writer = threading.Thread(target=write)
    writer.start()
    kills = []
    try:
        for k in range(args.kills):
            time.sleep(args.every)
            shard = k % 3
            pid = coll.pids()[shard]
            os.kill(pid, signal.SIGKILL)
            kills.append({"shard": shard, "pid": pid, "acked_so_far": stats["docs_acked"]})
        time.sleep(args.every)
    finally:
        stop.set()
        writer.join()
    present = {d.id: d for d in coll.get(sorted(truth))}
    lost, stale, resurrected = [], [], []
    for docid, version in truth.items():
        doc = present.get(docid)
        if version is None:
            if doc is not None:
                resurrected.append(docid)
        elif doc is None:
            lost.append(docid)
        elif doc.metadata.get("v") != version or doc.text.split()[-1] != str(version):
            stale.append(docid)
    summary = {
        **stats,
        "kills": len(kills),
        "ids_compared": len(truth),
        "lost": len(lost),
        "stale": len(stale),
        "resurrected": len(resurrected),
        "restarted_pids": coll.pids(),
    }
    print(json.dumps(summary, indent=2))
    coll.shutdown()
    ray.shutdown()
    cluster.shutdown()
    return 1 if lost or stale or resurrected else 0


if __name__ == "__main__":
    sys.exit(main())
