"""`lucene-hybrid serve` as a real process on loopback: lifecycle, restart, kill -9, CheckIndex."""

from __future__ import annotations

import signal
from urllib.parse import quote

import httpx
import pytest
from serverproc import Server, check_both_halves, free_port  # same folder, on sys.path

pytestmark = pytest.mark.slow


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
        for odd in ("%2F", "a/b", "50% off?"):  # GET by id: the path is decoded exactly once
            srv.post(f"{c}/documents", {"documents": [{"id": odd, "text": "odd id"}]})
            got = srv.get(f"{c}/documents/{quote(odd, safe='')}")
            assert got.status_code == 200 and got.json()["id"] == odd, got.text
            srv.post(f"{c}/documents/delete", {"ids": [odd]})
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

    check_both_halves(data / "collections" / "e2e")
