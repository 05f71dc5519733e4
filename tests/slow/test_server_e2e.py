"""`lucene-hybrid serve` as a real process on loopback: lifecycle, restart, kill -9, CheckIndex."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("lucene-hybrid"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, port: int, *extra: str):
        self.data_dir, self.port, self.extra = data_dir, port, extra
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        env = {
            **os.environ,
            "LUCENE_HYBRID_DEMO_COLLECTION": "false",
            "LUCENE_HYBRID_COMMIT_INTERVAL_S": "30",
        }
        self.log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [CLI, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port), *self.extra],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                self.data_dir.parent / f"server-{self.port}.log"
            ).read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError("server did not become ready")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        self.log.close()

    def post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=60)


def test_lifecycle_restart_and_kill9(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    srv = Server(data, port).start()
    try:
        assert srv.post("/v1/collections", {"name": "e2e"}).status_code == 201
        c = "/v1/collections/e2e"
        srv.post(
            f"{c}/documents",
            {
                "documents": [
                    {"id": "a", "text": "Volcanic ash grounded flights", "metadata": {"v": 1}}
                ]
            },
        )
        assert (
            srv.post(f"{c}/search", {"query": "volcano eruption", "k": 1}).json()["hits"][0]["id"]
            == "a"
        )
        srv.post(
            f"{c}/documents",
            {"documents": [{"id": "a", "text": "Tulips bloom in spring", "metadata": {"v": 2}}]},
        )
        hit = srv.post(f"{c}/search", {"query": "flowers", "k": 1}).json()["hits"][0]
        assert (
            hit["id"] == "a"
            and hit["text"] == "Tulips bloom in spring"
            and hit["metadata"] == {"v": 2}
        )
        srv.post(
            f"{c}/documents", {"documents": [{"id": "b", "text": "Tide tables for the harbour"}]}
        )
        srv.post(f"{c}/documents/delete", {"ids": ["b"]})
    finally:
        srv.stop(signal.SIGTERM)

    srv = Server(data, port).start()  # graceful restart: state intact
    try:
        got = srv.post(f"{c}/documents/get", {"ids": ["a", "b"]}).json()["documents"]
        assert [(d["id"], d["text"]) for d in got] == [("a", "Tulips bloom in spring")]

        # 1,000 documents in batches of 100, each visible right after its 200 ...
        for batch in range(10):
            docs = [
                {
                    "id": f"doc{batch * 100 + i}",
                    "text": f"marker{batch * 100 + i} note about item {i}",
                    "metadata": {"batch": batch},
                }
                for i in range(100)
            ]
            assert srv.post(f"{c}/documents", {"documents": docs}).status_code == 200
            for probe in (batch * 100, batch * 100 + 99):
                hits = srv.post(
                    f"{c}/search", {"query": f"marker{probe}", "mode": "bm25", "k": 1}
                ).json()["hits"]
                assert hits and hits[0]["id"] == f"doc{probe}"
    finally:
        # ... and still there after kill -9 (commit interval 30 s: only the log has them)
        srv.stop(signal.SIGKILL)
    wal = data / "collections" / "e2e" / "wal.jsonl"
    assert wal.stat().st_size > 0, "the batches should be in the log only, not yet committed"

    srv = Server(data, port).start()
    try:
        ids = [f"doc{i}" for i in range(1000)]
        got = srv.post(f"{c}/documents/get", {"ids": ids}).json()["documents"]
        assert len(got) == 1000
        assert (
            srv.post(f"{c}/search", {"query": "marker537", "mode": "bm25", "k": 1}).json()["hits"][
                0
            ]["id"]
            == "doc537"
        )
        info = httpx.get(f"{srv.url}{c}").json()
        assert info["documents"] == 1001
    finally:
        srv.stop(signal.SIGTERM)

    from lucene_hybrid.indexing.lucene_store import check_index

    for half in ("bm25", "hnsw"):
        assert check_index(data / "collections" / "e2e" / half) == "clean"
