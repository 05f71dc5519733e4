"""The write-ahead log on a real file: append, replay, torn tails, truncate."""

from __future__ import annotations

import json

import pytest

from lucene_hybrid.server.wal import WriteAheadLog


def test_append_replay_truncate(tmp_path):
    wal = WriteAheadLog(tmp_path / "wal.jsonl")
    wal.append({"op": "upsert", "docs": [{"id": "a"}]})
    wal.append({"op": "delete", "ids": ["a"]})
    assert [r["op"] for r in wal.replay()] == ["upsert", "delete"] and wal.records == 2
    wal.truncate()
    assert list(wal.replay()) == [] and (tmp_path / "wal.jsonl").stat().st_size == 0
    wal.append({"op": "delete", "ids": ["b"]})  # appends after a truncate start at offset 0
    assert [r["ids"] for r in wal.replay()] == [["b"]]
    wal.close()


def test_torn_final_record_is_dropped_whole(tmp_path):
    path = tmp_path / "wal.jsonl"
    good = json.dumps({"op": "delete", "ids": ["x"]})
    path.write_text(good + "\n" + '{"op": "upsert", "docs": [{"id": "half')  # crash mid-append
    assert [r["ids"] for r in WriteAheadLog(path).replay()] == [["x"]]


def test_corruption_before_the_end_is_an_error(tmp_path):
    path = tmp_path / "wal.jsonl"
    path.write_text("{broken\n" + json.dumps({"op": "delete", "ids": ["x"]}) + "\n")
    with pytest.raises(json.JSONDecodeError):
        list(WriteAheadLog(path).replay())
