"""`lucene-hybrid serve --ray` on a two-node Ray cluster: the same REST API over a sharded
collection, answering as a collection in one process does, and 503 (or a marked partial answer)
while a shard is down."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from serverproc import Server, ray_server

from lucene_hybrid.cluster import heap_for


@pytest.fixture(scope="module")
def server(ray_cluster, tmp_path_factory):
    data = tmp_path_factory.mktemp("served") / "data"
    with ray_server(ray_cluster.address, data, LUCENE_HYBRID_CLUSTER__SHARD_TIMEOUT_S="5") as srv:
        yield srv


def docs_of(pydoc_docs, n):
    return [{"id": d.id, "text": d.text, "metadata": d.metadata} for d in pydoc_docs[:n]]


def test_one_shard_needs_no_cluster_and_many_need_serve_ray(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        r = httpx.post(f"{srv.url}/v1/collections", json={"name": "c", "shards": 3})
        assert r.status_code == 400
        assert "serve --ray" in r.json()["error"]["message"]
        assert not (tmp_path / "data" / "collections" / "c").exists()
    finally:
        srv.stop()


def test_a_sharded_collection_answers_as_one_collection(server, pydoc_docs):
    c = httpx.Client(base_url=server.url, timeout=120)
    assert c.post("/v1/collections", json={"name": "whole"}).status_code == 201
    made = c.post("/v1/collections", json={"name": "split", "shards": 3})
    assert made.status_code == 201, made.text
    assert [s["shard"] for s in made.json()["shards"]] == [0, 1, 2]
    docs = docs_of(pydoc_docs, 300)
    for name in ("whole", "split"):
        for i in range(0, len(docs), 100):
            r = c.post(f"/v1/collections/{name}/documents", json={"documents": docs[i : i + 100]})
            assert r.status_code == 200, r.text
    info = c.get("/v1/collections/split").json()
    assert info["documents"] == 300 and sum(s["documents"] for s in info["shards"]) == 300
    # shard_heap auto: each shard's JVM sized to the shard when its process started (empty)
    assert [s["jvm_heap"] for s in info["shards"]] == [heap_for(0)] * 3
    for body in (
        {"query": "the with statement and context managers", "mode": "bm25"},
        {"query": "exceptions raised in a finally clause", "mode": "dense"},
        {"query": "class definitions and metaclasses", "mode": "hybrid", "k": 5, "offset": 3},
        {"query": "string formatting", "mode": "hybrid", "fusion": "linear", "explain": True},
    ):
        want = c.post("/v1/collections/whole/search", json=body).json()["hits"]
        got = c.post("/v1/collections/split/search", json={**body, "timings": True}).json()
        assert [(h["id"], h["rank"], round(h["score"], 4)) for h in got["hits"]] == [
            (h["id"], h["rank"], round(h["score"], 4)) for h in want
        ]
        assert [h["text"] for h in got["hits"]] == [h["text"] for h in want]
    assert {"shard0_bm25_ms", "shard2_dense_ms", "stats_ms"} <= set(got["timings_ms"])
    walk, after = [], None
    while True:
        page = c.post(
            "/v1/collections/split/documents/get", json={"limit": 64, "after": after}
        ).json()
        walk += [d["id"] for d in page["documents"]]
        after = page["next"]
        if after is None:
            break
    assert walk == sorted(d["id"] for d in docs)
    ready = c.get("/readyz").json()
    assert [s["up"] for s in ready["shards"]["split"]] == [True, True, True]
    metrics = c.get("/metrics").text
    assert 'lucene_hybrid_shard_up{collection="split",shard="1"} 1.0' in metrics


def test_deleting_a_sharded_collection_ends_its_shards_and_frees_the_name(server, pydoc_docs):
    import ray

    from lucene_hybrid.cluster import NAMESPACE

    def shard_actors():
        return [
            a
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE and a["name"].startswith("gone-")
        ]

    c = httpx.Client(base_url=server.url, timeout=120)
    made = c.post("/v1/collections", json={"name": "gone", "shards": 2})
    assert made.status_code == 201, made.text
    path = made.json()["path"]
    r = c.post("/v1/collections/gone/documents", json={"documents": docs_of(pydoc_docs, 20)})
    assert r.status_code == 200 and len(shard_actors()) == 2
    deleted = c.delete("/v1/collections/gone")
    assert deleted.status_code in (200, 204), deleted.text
    assert c.get("/v1/collections/gone").status_code == 404
    assert not shard_actors()
    assert not Path(path).exists()
    again = c.post("/v1/collections", json={"name": "gone", "shards": 2})
    assert again.status_code == 201 and again.json()["documents"] == 0


def test_a_shard_down_answers_503_or_a_marked_partial_answer(server, ray_cluster):
    import ray

    from lucene_hybrid.cluster import NAMESPACE

    c = httpx.Client(base_url=server.url, timeout=120)
    shard1 = next(
        a
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == NAMESPACE
        and a["name"].startswith("split-")
        and a["name"].endswith("shard-001")
    )
    ray.kill(ray.get_actor(shard1["name"], NAMESPACE), no_restart=True)
    body = {"query": "the with statement", "mode": "bm25", "k": 20}
    down = c.post("/v1/collections/split/search", json=body)
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert down.json()["error"]["type"] == "shard_unavailable"
    part = c.post("/v1/collections/split/search", json={**body, "allow_partial": True})
    assert part.status_code == 200
    assert part.json()["missing_shards"] == [1]
    assert part.json()["hits"]
    assert c.get("/readyz").status_code == 503


def test_auto_heap_grows_with_the_shard_in_64_mb_steps():
    documents = (0, 100_000, 1_000_000, 2_200_000, 10_000_000)
    sizes = [heap_for(n) for n in documents]
    mb = [int(h.removesuffix("m")) for h in sizes]
    assert all(h.endswith("m") and m % 64 == 0 for h, m in zip(sizes, mb, strict=True))
    assert mb == sorted(mb) and mb[0] == 256 and len(set(mb)) == len(mb)
    # 512 bytes a document on top of 256 MB, rounded up to the next 64 MB
    wanted = [256 + n * 512 / 2**20 for n in documents]
    assert all(0 <= m - w < 64 for m, w in zip(mb, wanted, strict=True))


@pytest.mark.parametrize("heap", ["lots", "1.5g", "0", "-1g", "auto "])
def test_a_shard_heap_the_jvm_cannot_take_is_refused_with_the_setting_named(heap):
    from pydantic import ValidationError

    from lucene_hybrid.server import ServerSettings

    with pytest.raises(ValidationError, match="shard_heap"):
        ServerSettings(cluster={"shard_heap": heap})
