"""The concurrency soak's short version: 4 readers + 1 writer on loopback for 30 s."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from serverproc import Server

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "probes" / "soak.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_soak_readers_and_a_writer(tmp_path):
    srv = Server(
        tmp_path / "data",
        env={"LUCENE_HYBRID_JVM_HEAP": "512m", "LUCENE_HYBRID_COMMIT_INTERVAL_S": "1"},
    ).start()
    try:
        assert srv.proc is not None
        result = load_soak().soak(srv.url, readers=4, duration=30, pid=srv.proc.pid)
    finally:
        srv.stop()
    print(f"\nsoak: {result}")
    assert result["server_errors"] == 0, result["status_counts"]
    assert result["inconsistent"] == []
    assert result["requests"] > 500 and result["writes_per_s"] > 1
    # Memory after the run stays within 25 % (+64 MB of slack) of the warmed-up figure.
    assert result["rss_mb_after"] <= result["rss_mb_before"] * 1.25 + 64, result
