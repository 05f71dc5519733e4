"""Get and delete by metadata filter, and the embed endpoint, through the real app."""

from __future__ import annotations

import numpy as np

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
