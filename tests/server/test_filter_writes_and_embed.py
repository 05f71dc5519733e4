"""Get and delete by metadata filter, and the embed endpoint, through the real app."""

from __future__ import annotations

import json
import shutil

import numpy as np
from fastapi.testclient import TestClient

from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.indexing.corpus import JsonlFields
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.server.api.app import create_app
from lucene_hybrid.server.collection import Collection
from lucene_hybrid.server.settings import load_settings

C = "/v1/collections"


def test_get_and_delete_by_filter(client):
    body = {"name": "byfilter", "encoder": {"kind": "precomputed", "dim": 3}}
    assert client.post(C, json=body).status_code == 201
    docs = [
        {
            "id": f"d{i}",
            "text": f"doc {i}",
            "metadata": {"ref": f"r{i % 3}", "n": i},
            "vector": [1, i, 0],
        }
        for i in range(12)
    ]
    assert client.post(f"{C}/byfilter/documents", json={"documents": docs}).status_code == 200
    r0 = {"field": "ref", "op": "eq", "value": "r0"}
    got = client.post(f"{C}/byfilter/documents/get", json={"filter": r0}).json()["documents"]
    assert sorted(d["id"] for d in got) == ["d0", "d3", "d6", "d9"]
    assert all(d["metadata"]["ref"] == "r0" for d in got)
    limited = client.post(f"{C}/byfilter/documents/get", json={"filter": r0, "limit": 2})
    assert len(limited.json()["documents"]) == 2
    r = client.post(f"{C}/byfilter/documents/delete", json={"filter": r0})
    assert r.status_code == 200 and r.json()["count"] == 4
    left = client.post(f"{C}/byfilter/documents/get", json={"ids": [d["id"] for d in docs]})
    assert sorted(d["id"] for d in left.json()["documents"]) == sorted(
        f"d{i}" for i in range(12) if i % 3
    )
    both = client.post(f"{C}/byfilter/documents/delete", json={"ids": ["d1"], "filter": r0})
    assert both.status_code == 422 and "either" in both.json()["error"]["message"]
    everything = client.post(f"{C}/byfilter/documents/get", json={}).json()
    assert [d["id"] for d in everything["documents"]] == sorted(f"d{i}" for i in range(12) if i % 3)
    assert everything["next"] is None
    gt = {"field": "n", "op": "gte", "value": 10}
    assert client.post(f"{C}/byfilter/documents/delete", json={"filter": gt}).json()["count"] == 2
    assert client.get(f"{C}/byfilter").json()["documents"] == 6


def _walk(client, name: str, limit: int, **body) -> list[list[str]]:
    """Every page of a walk through collection ``name``, as lists of ids."""
    pages, after = [], None
    while True:
        r = client.post(f"{C}/{name}/documents/get", json={**body, "limit": limit})
        assert r.status_code == 200, r.text
        pages.append([d["id"] for d in r.json()["documents"]])
        after = body["after"] = r.json()["next"]
        if after is None:
            return pages


def test_paging_walks_every_document_once_in_id_order(client):
    name = "walk"
    assert client.post(
        C, json={"name": name, "encoder": {"kind": "precomputed", "dim": 2}}
    ).is_success
    ids = [f"doc{i:02d}" for i in range(40)] + ["Zeta", "a", "a0", "é", "日本", "😀", "b c/d"]
    docs = [
        {"id": d, "text": f"v1 {d}", "metadata": {"n": i}, "vector": [1, i]}
        for i, d in enumerate(ids)
    ]
    for start in range(0, len(docs), 10):  # several segments
        batch = {"documents": docs[start : start + 10]}
        assert client.post(f"{C}/{name}/documents", json=batch).is_success
    replaced = [{**d, "text": f"v2 {d['id']}"} for d in docs[::4]]  # old versions left deleted
    assert client.post(f"{C}/{name}/documents", json={"documents": replaced}).is_success
    gone = ["doc05", "a0", "日本"]
    assert client.post(f"{C}/{name}/documents/delete", json={"ids": gone}).is_success
    live = sorted(set(ids) - set(gone))  # Python orders str by code point

    pages = _walk(client, name, 7)
    assert [d for page in pages for d in page] == live
    assert [len(p) for p in pages] == [7] * (len(live) // 7) + [len(live) % 7]
    assert _walk(client, name, len(live)) == [live]  # a full last page says there is no next
    texts = client.post(f"{C}/{name}/documents/get", json={"limit": 1000}).json()["documents"]
    latest = {d["id"]: d["text"] for d in docs + replaced if d["id"] not in gone}
    assert {d["id"]: d["text"] for d in texts} == latest

    even = {"field": "n", "op": "in", "value": list(range(0, 50, 2))}
    want = sorted(d["id"] for d in docs if d["metadata"]["n"] % 2 == 0 and d["id"] not in gone)
    assert [d for page in _walk(client, name, 4, filter=even) for d in page] == want

    def page(**body):
        return client.post(f"{C}/{name}/documents/get", json=body).json()

    for after in ("a00", "doc395", "Z"):  # ids that are not there (one was deleted)
        want = [i for i in live if i > after][:2]
        assert [d["id"] for d in page(after=after, limit=2)["documents"]] == want
    assert page(after=live[-1]) == {"documents": [], "next": None}
    first = page(limit=5)
    assert first["next"] == live[4]
    # Written between pages: an id before the cursor is not seen, one after it is; a deleted
    # one is gone; nothing repeats.
    new = [{"id": i, "text": "new", "vector": [0, 1]} for i in ("0new", "zz-new")]
    assert client.post(f"{C}/{name}/documents", json={"documents": new}).is_success
    assert client.post(f"{C}/{name}/documents/delete", json={"ids": [live[-1]]}).is_success
    seen = [d["id"] for d in first["documents"]]
    seen += [d for p in _walk(client, name, 5, after=first["next"]) for d in p]
    assert seen == sorted((set(live) - {live[-1]}) | {"zz-new"})

    demo = [d for p in _walk(client, "demo", 7) for d in p]  # built by Anserini's indexer
    assert demo == sorted(set(demo)) and len(demo) == client.get(f"{C}/demo").json()["documents"]

    both = client.post(f"{C}/{name}/documents/get", json={"ids": ["a"], "after": "a"})
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]


def test_embed_uses_the_collection_encoder(client, minilm):
    r = client.post(f"{C}/demo/embed", json={"texts": ["volcanic ash", "tulips"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dim"] == 384 and len(body["vectors"]) == 2
    expected = minilm.encode_queries(["volcanic ash", "tulips"])
    assert np.allclose(np.asarray(body["vectors"]), expected, atol=1e-5)
    docs = client.post(f"{C}/demo/embed", json={"texts": ["x"], "input_type": "document"})
    assert docs.status_code == 200
    body2 = {"name": "noencoder", "encoder": {"kind": "precomputed", "dim": 2}}
    assert client.post(C, json=body2).status_code == 201
    r = client.post(f"{C}/noencoder/embed", json={"texts": ["x"]})
    assert r.status_code == 422 and "no server-side encoder" in r.json()["error"]["message"]


def test_an_attached_index_that_fails_to_reopen_says_why(tmp_path):
    """A restart with the same `--collection NAME=DIR` finds NAME attached by the first start;
    when it cannot open it, the 503 gives the reason, not "already exists"."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "some text", "vector": [1.0, 0.0]}) + "\n")
    index = tmp_path / "idx"
    build_index(
        BuildOptions(
            corpus,
            index,
            fmt="jsonl",
            fields=JsonlFields(vector="vector"),
            encoder=EncoderSpec(kind="precomputed", model="precomputed", dim=2),
            progress=False,
        )
    )
    settings = load_settings(
        data_dir=tmp_path / "data", demo_collection=False, collections={"sci": str(index)}
    )
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/collections/sci").status_code == 200
    holder = Collection("holder", index)  # another writer holds the index's Lucene locks
    try:
        with TestClient(create_app(settings)) as c:
            r = c.get("/v1/collections/sci")
            assert r.status_code == 503, r.text
            message = r.json()["error"]["message"]
            assert "Lock" in message and "already exists" not in message, message
    finally:
        holder.close()
    with TestClient(create_app(settings)) as c:  # once free, the same start serves it
        assert c.get("/v1/collections/sci").status_code == 200
    shutil.rmtree(index / "hnsw")  # half the index lost between two starts: refused, not emptied
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/collections/sci")
        assert r.status_code == 503 and "incomplete" in r.json()["error"]["message"], r.text
    assert not (index / "hnsw").exists()
