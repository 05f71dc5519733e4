#!/usr/bin/env python
"""Would Ray Compiled Graphs make the router's round trip to its shards cheaper, and at what
price?

Four actors stand in for shards (each unpickles a search-sized request and answers at once),
spread over a two-node Ray cluster on loopback. The same fan-out is timed as ordinary actor
calls (what the router makes) and as a compiled graph (one channel to each actor, read by a
loop the graph keeps running in it), in alternating blocks; then the CPU the actors burn while
the compiled graph is idle.

    python scripts/probes/compiled_graph.py [--requests 1000] [--actors 4]
"""

import argparse
import os
import pickle
import statistics
import time
from pathlib import Path

os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"})

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from ray.dag import InputNode, MultiOutputNode  # noqa: E402

IDLE_S = 5.0


@ray.remote(num_cpus=0, max_concurrency=16)
class Part:
    def search(self, request: bytes) -> bytes:
        query, vector = pickle.loads(request)  # noqa: S301 - our own request
        return pickle.dumps({"ids": [f"{query}-{i}" for i in range(100)], "v": vector[:10]})

    def pid(self) -> int:
        return os.getpid()


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000, help="per way, in blocks of 100")
    ap.add_argument("--actors", type=int, default=4)
    args = ap.parse_args()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        parts = [Part.options(scheduling_strategy="SPREAD").remote() for _ in range(args.actors)]
        pids = ray.get([p.pid.remote() for p in parts])
        request = pickle.dumps(("query", np.random.default_rng(0).random(384, np.float32)))
        with InputNode() as given:
            graph = MultiOutputNode([p.search.bind(given) for p in parts])
        t0 = time.perf_counter()
        compiled = graph.experimental_compile()
        compile_s = time.perf_counter() - t0
        ways = {
            "actor calls": lambda: ray.get([p.search.remote(request) for p in parts]),
            "compiled graph": lambda: ray.get(compiled.execute(request), timeout=10),
        }
        for call in ways.values():  # warm-up
            timed(call, 100)
        lat: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(max(1, args.requests // 100)):
            for name, call in ways.items():
                lat[name].extend(timed(call, 100))
        before = [cpu_s(p) for p in pids]
        time.sleep(IDLE_S)
        idle = [(cpu_s(p) - b) / IDLE_S * 100 for p, b in zip(pids, before, strict=True)]
        compiled.teardown()
        print(f"{args.actors} actors on 2 nodes; compiling took {compile_s:.2f} s")
        for name, ms in lat.items():
            ms.sort()
            p99 = ms[int(len(ms) * 0.99)]
            print(f"{name}: p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms ({len(ms)})")
        print(
            "CPU of each actor while the compiled graph is idle: "
            + ", ".join(f"{pct:.0f}%" for pct in idle)
            + " of a core"
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
