#!/usr/bin/env python
"""Which front end costs less per search: a Ray Serve ingress or a plain uvicorn process.

Both serve the same FastAPI route, which fans out to the same two Ray actors (standing in for
shards: each answers at once) and returns what they said: the difference is the front end's own
cost. A two-node Ray cluster on loopback; one client, sequential requests; p50 and p99 of each,
measured in alternating blocks so that both see the same machine.

    python scripts/probes/serve_frontend.py [--requests 2000]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"})

import httpx  # noqa: E402
import ray  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from ray import serve  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

NAMESPACE = "frontend-probe"


@ray.remote(num_cpus=0)
class Part:
    def search(self, query: str) -> list[str]:
        return [f"{query}-{i}" for i in range(10)]


def make_app() -> FastAPI:
    app = FastAPI()
    parts: list = []

    @app.get("/search")
    def search(q: str) -> dict:
        if not parts:
            parts.extend(ray.get_actor(f"part{i}", NAMESPACE) for i in range(2))
        return {"hits": [h for part in ray.get([p.search.remote(q) for p in parts]) for h in part]}

    return app


@serve.deployment(ray_actor_options={"num_cpus": 0})
@serve.ingress(make_app())
class Front:
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(url: str, n: int) -> list[float]:
    out = []
    with httpx.Client() as c:
        for i in range(n):
            t = time.perf_counter()
            assert c.get(url, params={"q": f"q{i}"}).status_code == 200
            out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address, namespace=NAMESPACE)
    parts = [
        Part.options(name=f"part{i}", lifetime="detached", scheduling_strategy="SPREAD").remote()
        for i in range(2)
    ]
    ray.get([p.search.remote("warm") for p in parts])
    serve_port, plain_port = free_port(), free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": serve_port})
    serve.run(Front.bind(), route_prefix="/")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, ray, uvicorn, sys; sys.path.insert(0, os.path.dirname(sys.argv[1]));"
            "from serve_frontend import make_app, NAMESPACE;"
            "ray.init(address=sys.argv[2], namespace=NAMESPACE);"
            "uvicorn.run(make_app(), host='127.0.0.1', port=int(sys.argv[3]), log_level='warning')",
            os.path.abspath(__file__),
            cluster.address,
            str(plain_port),
        ]
    )
    try:
        urls = {
            "ray serve": f"http://127.0.0.1:{serve_port}/search",
            "uvicorn": f"http://127.0.0.1:{plain_port}/search",
        }
        deadline = time.time() + 120
        for url in urls.values():
            while True:
                try:
                    if httpx.get(url, params={"q": "x"}).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.time() < deadline, url
                time.sleep(0.5)
        lat: dict[str, list[float]] = {k: [] for k in urls}
        for url in urls.values():
            timed(url, 200)  # warm-up
        block = 100
        for _ in range(args.requests // block):
            for name, url in urls.items():
                lat[name] += timed(url, block)
        for name, ms in lat.items():
            ms.sort()
            print(
                f"{name}: {len(ms)} requests, p50 {statistics.median(ms):.2f} ms, "
                f"p99 {ms[int(len(ms) * 0.99)]:.2f} ms",
                flush=True,
            )
    finally:
        child.terminate()
        child.wait()
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
