"""Indexes written on Lucene 9 keep working: they open, search, filter and take writes.

tests/data/lucene9 holds a batch-built index (Anserini's indexers) and a live collection (the
server's writer, with deletes), both made by the Lucene 9.9 release of this project with
make_fixture.py beside them. Whatever Lucene the project runs on must read them as they are.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lucene_hybrid.search import SearchParams, filter_json, open_index, parse_filter
from lucene_hybrid.server import Collection, DocIn

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "lucene9"
CORPUS = {
    doc["id"]: doc for doc in map(json.loads, (FIXTURE / "corpus.jsonl").read_text().splitlines())
}
DELETED = {"gone-1", "gone-2"}
IN_COLLECTION = [d for d in list(CORPUS)[:8] if d not in DELETED]  # make_fixture.py's writes


@pytest.fixture
def copies(tmp_path) -> dict[str, Path]:
    """Fresh copies: a test writes to them, and the fixture must stay as Lucene 9 left it."""
    return {
        name: Path(shutil.copytree(FIXTURE / name, tmp_path / name))
        for name in ("built", "collection")
    }


def _top(search, query: str | None, mode: str, vector=None) -> str | None:
    hits = search(query, SearchParams(mode=mode, k=1), vector)
    return hits[0].docid if hits else None


def _assert_each_document_is_found(search, ids) -> None:
    for docid in ids:
        # Each id is a word of its own text and of no other (the corpus is made so).
        assert _top(search, docid, "bm25") == docid
        assert _top(search, None, "dense", CORPUS[docid]["vector"]) == docid


def test_a_lucene9_batch_built_index_searches_every_document():
    searcher = open_index(FIXTURE / "built")
    try:
        _assert_each_document_is_found(searcher.search, [d for d in CORPUS if d not in DELETED])
        rock = filter_json(parse_filter({"field": "topic", "op": "eq", "value": "rock"}))
        rocks = searcher.search(None, SearchParams(mode="dense", k=10, filter=rock), [0, 1, 0, 0])
        assert {h.docid for h in rocks} == {"basalt", "jasper"}
    finally:
        searcher.close()


def test_a_lucene9_collection_opens_with_its_deletes_and_takes_writes(copies):
    collection = Collection("fixture", copies["collection"])
    try:
        assert collection.count() == len(IN_COLLECTION)
        assert collection.get(sorted(DELETED)) == []
        assert _top(collection.search, "deleted", "bm25") is None
        _assert_each_document_is_found(collection.search, IN_COLLECTION)
        water = filter_json(parse_filter({"field": "topic", "op": "eq", "value": "water"}))
        found, _ = collection.find(water, 10)
        assert {d.id for d in found} == {"delta", "fjord"}

        collection.upsert(
            [
                DocIn(
                    "lumen", "Lumen measures visible light", {"topic": "sky"}, (0.0, 0.0, 0.0, -1.0)
                )
            ]
        )
        collection.delete(["basalt"])
    finally:
        collection.close()

    reopened = Collection("fixture", copies["collection"])
    try:
        assert reopened.count() == len(IN_COLLECTION)
        assert reopened.get(["basalt"]) == []
        assert [d.id for d in reopened.get(["lumen"])] == ["lumen"]
        assert _top(reopened.search, "lumen", "bm25") == "lumen"
        assert _top(reopened.search, None, "dense", [0, 0, 0, -1]) == "lumen"
    finally:
        reopened.close()


def test_a_lucene9_batch_built_index_takes_writes_once_served(copies):
    collection = Collection("built", copies["built"])
    try:
        collection.upsert(
            [
                DocIn(
                    "aurora",
                    "Aurora now means the dawn goddess",
                    {"topic": "myth"},
                    (1.0, 0.0, 0.0, 0.0),
                )
            ]
        )
        collection.delete(["kelp"])
        [aurora] = collection.get(["aurora"])
        assert aurora.text == "Aurora now means the dawn goddess"
        assert aurora.metadata == {"topic": "myth"}
        assert collection.get(["kelp"]) == []
        assert _top(collection.search, "goddess", "bm25") == "aurora"
        assert _top(collection.search, "borealis", "bm25") is None  # the old text is gone
    finally:
        collection.close()
