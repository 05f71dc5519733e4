"""HTTP benchmark: a closed-loop load generator against `lucene-hybrid serve` on loopback.

``concurrency`` clients each send their next request as soon as the previous answer arrives
(closed loop: the offered load adapts to the server, so QPS is what it sustains at that
concurrency). Each client keeps one HTTP/1.1 connection (`Connection`: a socket that writes the
request and reads the answer by its Content-Length, so the generator's own cost stays small
beside the server's). The generator shares the machine with the server; on few cores it
competes with it for CPU.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from lucene_hybrid.bench.common import WARMUP_S, machine, percentile, vm_kib, warm_up
from lucene_hybrid.bench.search import timed_search
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.search.hybrid import HybridSearcher
from lucene_hybrid.search.types import SearchParams


@dataclass
class HttpRow:
    """One mode and input at one concurrency."""

    mode: str
    input: str  # "text" or "vector"
    concurrency: int
    requests: int
    errors: int
    p50_ms: float | None  # None when every request failed
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    qps: float


@dataclass
class PairRow:
    """One mode and input at one client, HTTP and in process in alternating blocks."""

    mode: str
    input: str
    requests: int
    in_process_p50_ms: float
    http_p50_ms: float
    server_p50_ms: float  # the server's own time for the search (its timings_ms.total_ms)
    gap_p50_ms: float  # the median over queries of (HTTP - in process)


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and returns (status, body).

    The lean client a load generator needs: ``http.client`` parses each answer's headers with
    the email package, ~0.4 ms a request on a 2-vCPU AMD EPYC (measured in alternating blocks
    against this class on one server), a fifth of what HTTP adds to a hybrid search there; that
    time would be the generator's, counted as the server's. Answers are read by Content-Length,
    which the server always sends; one without it (chunked) is refused.

    Raises:
        OSError: on a connection the server closed or that timed out (reconnects on next use).
    """

    def __init__(self, host: str, port: int, timeout: float = 60):
        self.address, self.timeout = (host, port), timeout
        self.sock: socket.socket | None = None
        self.pending = b""  # bytes read past the last answer

    @classmethod
    def to(cls, url: str) -> Connection:
        """A connection to the server at ``url`` (``http://host:port``)."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80)

    def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.address[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        try:
            self.sock.sendall(head.encode() + payload)
            buf = self.pending
            while (end := buf.find(b"\r\n\r\n")) < 0:
                buf += self._recv()
            lines = buf[:end].split(b"\r\n")
            status = int(lines[0].split()[1])
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip()
            if b"content-length" not in fields:
                raise LuceneHybridError(f"{path} answered without a Content-Length: {lines[0]!r}")
            stop = end + 4 + int(fields[b"content-length"])
            while len(buf) < stop:
                buf += self._recv()
        except BaseException:
            self.close()
            raise
        self.pending = buf[stop:]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, buf[end + 4 : stop]

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str, path: str) -> tuple[int, str]:
    """A GET's status and body (0 and the error when nothing answered)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


@contextmanager
def serve(
    index: Path,
    name: str,
    *,
    jvm_heap: str | None = None,
    timeout: float = 300,
    data_dir: Path | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Run ``lucene-hybrid serve`` on ``index`` on a free loopback port; yields (url, pid).
    ``data_dir``: the server's (default: a new temporary one); ``args``: more of serve's
    options; ``env``: more settings."""
    cli = str(Path(sys.executable).with_name("lucene-hybrid"))
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="lh-bench-") as scratch:
        data = str(data_dir or scratch)
        cmd = [cli] + (["--jvm-heap", jvm_heap] if jvm_heap else [])
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data]
        cmd += ["--collection", f"{name}={index}", *args]
        # No query-embedding cache: the warm-up and earlier rows send the same texts.
        env = {
            **os.environ,
            "LUCENE_HYBRID_DEMO_COLLECTION": "false",
            "LUCENE_HYBRID_QUERY_CACHE_SIZE": "0",
            **(env or {}),
        }
        log_path = Path(scratch) / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + timeout
                while (ready := _status(url, "/readyz"))[0] != 200:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise LuceneHybridError(
                            f"the server did not become ready (/readyz: {ready[1][:1000]}):\n"
                            + log_path.read_text()[-2000:]
                        )
                    time.sleep(0.2)
                yield url, proc.pid
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def load(
    url: str,
    path: str,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
    *,
    warmup_s: float = 2.0,
) -> tuple[list[float], int, float]:
    """Send every body once from ``concurrency`` closed-loop clients.

    Returns:
        (latencies of the successful requests in ms, count of failed ones, wall seconds).
    """
    payloads = [json.dumps(b).encode() for b in bodies]
    next_index = iter(range(len(payloads)))
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def client(items: Iterator[int] | None) -> None:
        conn = Connection.to(url)
        try:
            while True:
                with lock:
                    i = next(next_index, None) if items is None else next(items, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    ok = conn.post(path, payloads[i])[0] == 200
                except OSError:
                    ok = False  # the connection is closed; the next post opens another
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if items is not None:
                        continue  # warm-up: not measured
                    if ok:
                        latencies.append(ms)
                    else:
                        errors[0] += 1
        finally:
            conn.close()

    # Warm-up (the server's JIT, connections): cycle over the bodies for ``warmup_s``.
    start = time.perf_counter()
    while time.perf_counter() - start < warmup_s:
        client(iter(range(min(20, len(payloads)))))
    threads = [threading.Thread(target=client, args=(None,)) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - start


def search_bodies(
    queries: Sequence[str],
    vectors: Sequence[Sequence[float]] | np.ndarray | None,
    mode: str,
    k: int,
    depth: int,
    **extra: Any,
) -> list[dict[str, Any]]:
    """One search request body per query; with ``vectors``, the vector replaces dense's text."""
    bodies = []
    for i, q in enumerate(queries):
        body: dict[str, Any] = {"mode": mode, "k": k, "depth": depth, "include_text": False}
        if vectors is not None:
            body["vector"] = [float(x) for x in vectors[i]]
        if vectors is None or mode == "hybrid":
            body["query"] = q
        bodies.append(body | extra)
    return bodies


def run(
    url: str,
    collection: str,
    queries: Sequence[str],
    *,
    vectors: Sequence[Sequence[float]] | np.ndarray | None = None,
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    concurrency: Sequence[int] = (1, 4, 16),
    k: int = 10,
    depth: int = 100,
    pid: int | None = None,
    label: str = "",
    searcher: HybridSearcher | None = None,
) -> dict[str, Any]:
    """Each mode (dense and hybrid also with vectors given) at each concurrency level; with
    ``searcher`` (the served index opened here) first one client beside the same searches in
    process (`beside_in_process`)."""
    pairs = []
    if searcher is not None:
        pairs = beside_in_process(
            url,
            collection,
            searcher,
            queries,
            vectors=None if vectors is None else np.asarray(vectors, dtype=np.float32),
            modes=modes,
            k=k,
            depth=depth,
        )
    path = f"/v1/collections/{collection}/search"
    rows = []
    for mode in modes:
        with_vector = vectors is not None and mode != "bm25"
        inputs = ["text", "vector"] if with_vector else ["text"]
        for given in inputs:
            bodies = search_bodies(queries, vectors if given == "vector" else None, mode, k, depth)
            for c in concurrency:
                lat, errors, wall = load(url, path, bodies, c)
                rows.append(
                    HttpRow(
                        mode=mode,
                        input=given,
                        concurrency=c,
                        requests=len(bodies),
                        errors=errors,
                        p50_ms=round(percentile(lat, 50), 3) if lat else None,
                        p95_ms=round(percentile(lat, 95), 3) if lat else None,
                        p99_ms=round(percentile(lat, 99), 3) if lat else None,
                        mean_ms=round(statistics.fmean(lat), 3) if lat else None,
                        qps=round(len(lat) / wall, 1),
                    )
                )
    result: dict[str, Any] = {
        "label": label,
        "url": url,
        "k": k,
        "depth": depth,
        "machine": machine(),
        "rows": [asdict(r) for r in rows],
        "beside_in_process": [asdict(p) for p in pairs],
    }
    if pid is not None:
        result["server_peak_rss_mb"] = round(vm_kib(pid, "VmHWM") / 1024, 1)
    return result


class _Http:
    """One keep-alive connection that posts searches and returns (client ms, server ms)."""

    def __init__(self, url: str, path: str):
        self.conn = Connection.to(url)
        self.path = path

    def search(self, payload: bytes) -> tuple[float, float]:
        t0 = time.perf_counter()
        status, data = self.conn.post(self.path, payload)
        ms = (time.perf_counter() - t0) * 1000
        if status != 200:
            raise LuceneHybridError(f"{self.path} answered {status}: {data[:500]!r}")
        return ms, float(json.loads(data)["timings_ms"]["total_ms"])


def _pairs(
    web: _Http,
    searcher: HybridSearcher,
    queries: Sequence[str],
    vectors: np.ndarray | None,
    params: SearchParams,
    warmup_s: float,
    block_size: int,
) -> PairRow:
    payloads = [
        json.dumps(b).encode()
        for b in search_bodies(queries, vectors, params.mode, params.k, params.depth, timings=True)
    ]

    here: dict[int, float] = {}
    over: dict[int, tuple[float, float]] = {}

    def side(i: int, in_process: bool) -> None:
        if in_process:
            vec = None if vectors is None else vectors[i]
            here[i] = timed_search(searcher, queries[i], vec, params)[0]
        else:
            over[i] = web.search(payloads[i])

    def both(i: int) -> None:
        side(i, True)
        side(i, False)

    warm_up(both, len(queries), warmup_s)
    for start in range(0, len(queries), block_size):
        for in_process in (True, False) if start // block_size % 2 else (False, True):
            for i in range(start, min(start + block_size, len(queries))):
                side(i, in_process)
    ids = range(len(queries))
    client, server = [over[i][0] for i in ids], [over[i][1] for i in ids]
    return PairRow(
        mode=params.mode,
        input="text" if vectors is None else "vector",
        requests=len(queries),
        in_process_p50_ms=round(percentile(list(here.values()), 50), 3),
        http_p50_ms=round(percentile(client, 50), 3),
        server_p50_ms=round(percentile(server, 50), 3),
        gap_p50_ms=round(statistics.median(client[i] - here[i] for i in ids), 3),
    )


def beside_in_process(
    url: str,
    collection: str,
    searcher: HybridSearcher,
    queries: Sequence[str],
    *,
    vectors: np.ndarray | None = None,
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    k: int = 10,
    depth: int = 100,
    warmup_s: float = WARMUP_S,
    block_size: int = 10,
) -> list[PairRow]:
    """The queries over HTTP (one client) and in this process, in alternating blocks of
    ``block_size``, per mode and input.

    What HTTP adds to a search, with the machine's drift taken out: this machine's timings moved
    by up to 60 % between runs minutes apart, so an HTTP run set against an in-process run from
    another time compares the drift as much as the two paths. Blocks rather than single queries:
    the two processes evict each other's caches, and alternating query by query charged both
    sides a cold start every time (bm25 in process 1.03 ms instead of ~0.6). Which side goes
    first alternates per block. ``searcher`` opens the same index as the server (whose
    query-embedding cache ``serve`` turns off); the in-process side bypasses its cache, so both
    sides encode every text.

    Raises:
        LuceneHybridError: when the server answers a search with an error.
    """
    web = _Http(url, f"/v1/collections/{collection}/search")
    rows = []
    try:
        for mode in modes:
            params = SearchParams(mode=mode, k=k, depth=depth, fetch_docs=False)  # type: ignore[arg-type]
            for given in [None, vectors] if vectors is not None and mode != "bm25" else [None]:
                rows.append(_pairs(web, searcher, queries, given, params, warmup_s, block_size))
    finally:
        web.conn.close()
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    peak = result.get("server_peak_rss_mb")
    lines = [
        f"{result['label']} over HTTP ({result['url']}), k={result['k']}, depth "
        f"{result['depth']}; {result['machine']['cpus']} CPUs"
        + (f"; server peak RSS {peak:,.0f} MB" if peak else ""),
        "",
        "| mode | input | clients | requests | errors | p50 ms | p95 ms | p99 ms | QPS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ms = [("—" if r[p] is None else f"{r[p]:.2f}") for p in ("p50_ms", "p95_ms", "p99_ms")]
        lines.append(
            f"| {r['mode']} | {r['input']} | {r['concurrency']} | {r['requests']} | "
            f"{r['errors']} | {' | '.join(ms)} | {r['qps']:,.0f} |"
        )
    pairs = result.get("beside_in_process")
    if pairs:
        lines += [
            "",
            "One client: the queries over HTTP and in the benchmark's own process (the same "
            "index and encoder), in alternating blocks of 10, so both share the machine's drift:",
            "",
            "| mode | input | requests | in process p50 ms | HTTP p50 ms | the server's own "
            "p50 ms | HTTP - in process, median of pairs, ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in pairs:
            lines.append(
                f"| {r['mode']} | {r['input']} | {r['requests']} | {r['in_process_p50_ms']:.2f} | "
                f"{r['http_p50_ms']:.2f} | {r['server_p50_ms']:.2f} | {r['gap_p50_ms']:+.2f} |"
            )
    return "\n".join(lines) + "\n"
