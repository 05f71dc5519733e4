"""Writes across the shards of a collection on a real two-node Ray cluster: routed by id,
read back from every shard, and never lost when a shard process is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from lucene_hybrid.search import SearchParams, filter_json, parse_filter
from lucene_hybrid.server import DocIn


@pytest.fixture(scope="module")
def coll(ray_cluster, tmp_path_factory, minilm):
    from lucene_hybrid.cluster import ShardedCollection

    coll = ShardedCollection.open(
        "writes",
        tmp_path_factory.mktemp("writes") / "c",
        shards=3,
        encoder=minilm,
        heap="256m",
        commit_interval_s=0.5,
        timeout_s=60,
    )
    yield coll
    coll.shutdown()


def test_text_is_embedded_once_and_documents_land_in_their_shards(coll):
    from lucene_hybrid.core import shard_of

    docs = [
        DocIn(id=f"t{i}", text=f"note number {i} about lucene shards", metadata={"i": i})
        for i in range(40)
    ]
    assert coll.upsert(docs) == 40
    counts = coll.shard_counts()
    assert counts == [sum(shard_of(d.id, 3) == s for d in docs) for s in range(3)]
    got = coll.get(["t7", "missing", "t3"], with_vectors=True)
    assert [d.id for d in got] == ["t7", "t3"]
    assert got[0].metadata == {"i": 7} and len(got[0].vector) == 384
    hits = coll.search("note number 7", SearchParams(mode="hybrid", k=3))
    assert hits[0].docid == "t7"


def test_the_walk_crosses_every_shard_in_id_order(coll):
    seen, after = [], None
    while True:
        page, after = coll.find(None, 7, after=after)
        seen += [d.id for d in page]
        if after is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == coll.count()


def test_deletes_by_id_and_by_filter_reach_every_shard(coll):
    before = coll.count()
    coll.delete(["t1", "t2", "nope"])
    assert not coll.get(["t1", "t2"])
    five = filter_json(parse_filter({"field": "i", "op": "lt", "value": 10}))
    removed = coll.delete_where(five)
    assert removed == 8  # t0, t3 ... t9
    assert coll.count() == before - 10
    assert all(d.metadata["i"] >= 10 for d in coll.get([f"t{i}" for i in range(40)]))


def test_a_shard_killed_mid_write_loses_no_acknowledged_write(coll, pydoc_docs):
    """SIGKILL a shard process three times under a write load: each restart replays the
    shard's log, and every acknowledged document is there afterwards."""
    from lucene_hybrid.cluster import ShardUnavailable

    acked: list[str] = []
    errors: list[Exception] = []
    stop = threading.Event()
    docs = pydoc_docs[:600]

    def write():
        for i in range(0, len(docs), 20):
            batch = docs[i : i + 20]
            while not stop.is_set():
                try:
                    coll.upsert(batch)
                    acked.extend(d.id for d in batch)
                    break
                except ShardUnavailable:  # the documented answer: retry the batch
                    time.sleep(0.2)
                except Exception as exc:  # anything else fails the test
                    errors.append(exc)
                    return

    writer = threading.Thread(target=write)
    writer.start()
    kills = 0
    for shard in (0, 1, 2):
        while len(acked) < 100 * (shard + 1) and writer.is_alive():
            time.sleep(0.05)
        os.kill(coll.pids()[shard], signal.SIGKILL)
        kills += 1
        time.sleep(0.5)
    writer.join(timeout=300)
    stop.set()
    assert not errors, errors
    assert kills == 3 and len(acked) == len(docs)
    present = {d.id for d in coll.get(acked)}
    assert present == set(acked)


def test_a_shard_that_does_not_answer_in_time_fails_the_search(coll, ray_cluster):
    import ray

    from lucene_hybrid.cluster import ShardedCollection, ShardUnavailable

    impatient = ShardedCollection(coll.spec, coll.path, coll.shards, coll.encoder, timeout_s=0.2)
    ray.kill(coll.shards[1], no_restart=False)  # Ray starts it again; that takes seconds
    with pytest.raises(ShardUnavailable, match="did not answer within 0.2 s"):
        impatient.search("note number 12", SearchParams(mode="bm25", k=3))
    hits = coll.search("note number 12", SearchParams(mode="bm25", k=3))  # waits for it
    assert hits and hits[0].docid == "t12"
