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
    neither = client.post(f"{C}/byfilter/documents/get", json={})
    assert neither.status_code == 422
    gt = {"field": "n", "op": "gte", "value": 10}
    assert client.post(f"{C}/byfilter/documents/delete", json={"filter": gt}).json()["count"] == 2
    assert client.get(f"{C}/byfilter").json()["documents"] == 6


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
