"""`lucene-hybrid serve` as a real child process on loopback, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("lucene-hybrid"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process; ``env`` adds LUCENE_HYBRID_* settings, ``preexec`` runs in the child."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *extra: str,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ):
        self.data_dir, self.port, self.extra = data_dir, port or free_port(), extra
        self.env = {
            "LUCENE_HYBRID_DEMO_COLLECTION": "false",
            "LUCENE_HYBRID_COMMIT_INTERVAL_S": "30",
            **(env or {}),
        }
        self.preexec = preexec
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> Server:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [CLI, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port), *self.extra],
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,  # only sets rlimits before exec
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    ready = httpx.get(f"{self.url}/readyz", timeout=5)
                    if ready.status_code == 200 or ready.json().get("status") == "degraded":
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not become ready:\n" + self.log_path.read_text()[-3000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        self.log.close()

    def rss_mb(self) -> float:
        """Resident memory of the server process (JVM included: it lives in the same process)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def post(self, path: str, body: dict, **kw: object) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=60, **kw)  # type: ignore[arg-type]

    def client_delete(self, path: str) -> httpx.Response:
        return httpx.delete(f"{self.url}{path}", timeout=60)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=60, **kw)  # type: ignore[arg-type]


def check_both_halves(collection_dir: Path) -> None:
    """Lucene CheckIndex on the BM25 and HNSW halves (the server must not hold them open)."""
    from lucene_hybrid.indexing.lucene_store import check_index

    for half in ("bm25", "hnsw"):
        report = check_index(collection_dir / half)
        assert report == "clean", f"{collection_dir / half}: {report}"


@contextmanager
def demo_server(folder: Path) -> Iterator[Server]:
    """A server with the bundled demo collection (and the real default encoder) loaded."""
    srv = Server(folder / "data", env={"LUCENE_HYBRID_DEMO_COLLECTION": "true"}).start(300)
    try:
        yield srv
    finally:
        srv.stop()


# A Ray cluster of the tests stays on 127.0.0.1, with no token (see docs/cluster.md).
RAY_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


@contextmanager
def ray_server(address: str, data: Path, **settings: str) -> Iterator[Server]:
    """`lucene-hybrid serve --ray ADDRESS` on loopback, shard heaps of 256 MB, commits every
    second; ``settings``: more LUCENE_HYBRID_* variables."""
    env = {
        **RAY_LOOPBACK,
        "LUCENE_HYBRID_CLUSTER__SHARD_HEAP": "256m",
        "LUCENE_HYBRID_COMMIT_INTERVAL_S": "1",
        **settings,
    }
    srv = Server(data, None, "--ray", address, env=env).start(timeout=300)
    try:
        yield srv
    finally:
        srv.stop()
