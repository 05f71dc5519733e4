"""REST API behaviour: collections, documents, search, filters, errors, operations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

DEMO = "/v1/collections/demo"


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]


def test_demo_hybrid_search_has_provenance(client):
    r = client.post(
        f"{DEMO}/search",
        json={"query": "how does lucene do vector search", "k": 3, "timings": True},
    )
    assert r.status_code == 200
    body = r.json()
    top = body["hits"][0]
    assert body["mode"] == "hybrid" and top["id"] == "lucene"
    assert top["bm25_rank"] == 1 and top["dense_rank"] == 1
    assert top["text"].startswith("Apache Lucene") and top["metadata"]["topic"] == "software"
    assert {"encode_ms", "bm25_ms", "dense_ms", "fusion_ms", "fetch_ms", "total_ms"} <= set(
        body["timings_ms"]
    )
    rrf = client.post(
        f"{DEMO}/search",
        json={"query": "how does lucene do vector search", "k": 3, "fusion": "rrf", "rrf_k": 60},
    ).json()["hits"][0]
    assert rrf["id"] == "lucene" and rrf["score"] == pytest.approx(2 / 61)
    lin = client.post(
        f"{DEMO}/search",
        json={
            "query": "lucene",
            "k": 30,
            "fusion": "linear",
            "alpha": 0.0,
            "normalization": "minmax",
        },
    ).json()["hits"]
    assert lin[0]["id"] == "lucene" and lin[0]["score"] == pytest.approx(1.0)


def test_list_and_describe(client):
    names = [c["name"] for c in client.get("/v1/collections").json()["collections"]]
    assert "demo" in names
    info = client.get(DEMO).json()
    assert info["documents"] == 30 and info["size_bytes"] > 0
    assert info["manifest"]["encoder"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_document_lifecycle(client):
    r = client.post("/v1/collections", json={"name": "notes"})
    assert r.status_code == 201, r.text
    c = "/v1/collections/notes"
    docs = [
        {
            "id": "n1",
            "text": "The quarterly budget review moved to Thursday",
            "metadata": {"team": "finance"},
        },
        {
            "id": "n/2 ü",
            "text": "Penguins huddle together to survive the antarctic winter",
            "metadata": {"team": "zoo", "n": 3},
        },
    ]
    assert client.post(f"{c}/documents", json={"documents": docs}).json()["count"] == 2
    hit = client.post(f"{c}/search", json={"query": "when is the budget meeting", "k": 1}).json()[
        "hits"
    ][0]
    assert hit["id"] == "n1"
    # update replaces the document: text, metadata and vector
    client.post(
        f"{c}/documents",
        json={
            "documents": [
                {
                    "id": "n1",
                    "text": "Emperor penguins breed in winter",
                    "metadata": {"team": "zoo"},
                }
            ]
        },
    )
    got = client.get(f"{c}/documents/n1").json()
    assert got["text"] == "Emperor penguins breed in winter" and got["metadata"] == {"team": "zoo"}
    hits = client.post(f"{c}/search", json={"query": "budget", "mode": "bm25"}).json()["hits"]
    assert hits == []
    both = client.post(
        f"{c}/documents/get", json={"ids": ["n/2 ü", "n1", "missing"], "with_vectors": True}
    ).json()
    assert [d["id"] for d in both["documents"]] == ["n/2 ü", "n1"]
    assert len(both["documents"][0]["vector"]) == 384
    assert math.isclose(sum(x * x for x in both["documents"][0]["vector"]), 1.0, rel_tol=1e-4)
    # delete removes it from search and get
    assert client.post(f"{c}/documents/delete", json={"ids": ["n1"]}).status_code == 200
    assert error_of(client.get(f"{c}/documents/n1"), 404)
    hits = client.post(f"{c}/search", json={"query": "penguins winter", "k": 5}).json()["hits"]
    assert [h["id"] for h in hits] == ["n/2 ü"]
    assert client.delete(c).status_code == 204
    error_of(client.post(f"{c}/search", json={"query": "x"}), 404)


def test_a_collection_created_quantized_keeps_its_format_through_writes(client):
    """`"hnsw": {"quantization": "int7"}` at creation is recorded in the manifest, live writes
    use it, and dense hits carry exact scores (rescored with the float32 vectors); an unknown
    format is a 422 that names the field, and no collection is made."""
    bad = client.post("/v1/collections", json={"name": "q8", "hnsw": {"quantization": "int3"}})
    assert "quantization" in error_of(bad, 422)["message"]
    assert client.get("/v1/collections/q8").status_code == 404
    r = client.post(
        "/v1/collections",
        json={"name": "q7", "hnsw": {"quantization": "int7", "oversample": 5}},
    )
    assert r.status_code == 201, r.text
    c = "/v1/collections/q7"
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(40, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = [{"id": f"d{i}", "text": f"note {i}", "vector": v.tolist()} for i, v in enumerate(vecs)]
    assert client.post(f"{c}/documents", json={"documents": docs}).status_code == 200
    hnsw = client.get(c).json()["manifest"]["hnsw"]
    assert (hnsw["quantization"], hnsw["oversample"]) == ("int7", 5)
    q = vecs[3] + 0.1 * vecs[4]
    q /= np.linalg.norm(q)
    body = {"vector": q.tolist(), "mode": "dense", "k": 5, "dense_search": "hnsw"}
    hits = client.post(f"{c}/search", json=body).json()["hits"]
    assert hits[0]["id"] == "d3"
    for h in hits:
        dot = float(vecs[int(h["id"][1:])] @ q)
        assert h["dense_score"] == pytest.approx((1 + dot) / 2, abs=1e-5)
    assert client.delete(c).status_code in (200, 204)


def test_filtered_dense_search_returns_k_matching_hits(client):
    """1,000 docs, 3% in group 'rare': a filtered dense search still returns k hits, all rare."""
    rng = np.random.default_rng(3)
    r = client.post(
        "/v1/collections",
        json={"name": "filtered", "encoder": {"kind": "precomputed", "model": "random", "dim": 16}},
    )
    assert r.status_code == 201, r.text
    vecs = rng.normal(size=(1000, 16))
    docs = [
        {
            "id": f"d{i}",
            "text": f"document {i}",
            "vector": vecs[i].tolist(),
            "metadata": {"group": "rare" if i % 33 == 0 else "common", "i": i},
        }
        for i in range(1000)
    ]
    for start in range(0, 1000, 250):
        assert (
            client.post(
                "/v1/collections/filtered/documents", json={"documents": docs[start : start + 250]}
            ).status_code
            == 200
        )
    rare = {d["id"] for d in docs if d["metadata"]["group"] == "rare"}
    assert len(rare) / 1000 < 0.05
    query = rng.normal(size=16).tolist()
    for mode in ("dense", "hybrid"):
        body = {
            "query": "document",
            "vector": query,
            "mode": mode,
            "k": 10,
            "filter": {"field": "group", "op": "eq", "value": "rare"},
        }
        hits = client.post("/v1/collections/filtered/search", json=body).json()["hits"]
        assert len(hits) == 10 and {h["id"] for h in hits} <= rare, mode
    # numeric range and boolean logic
    body = {
        "vector": query,
        "mode": "dense",
        "k": 50,
        "filter": {
            "and": [
                {"field": "i", "op": "gte", "value": 100},
                {"field": "i", "op": "lt", "value": 120},
                {"not": {"field": "i", "op": "in", "value": [105, 106]}},
            ]
        },
    }
    ids = {
        h["id"] for h in client.post("/v1/collections/filtered/search", json=body).json()["hits"]
    }
    assert ids == {f"d{i}" for i in range(100, 120)} - {"d105", "d106"}
    # exact search: the true top 10 by cosine, unfiltered (in-memory copy) and filtered (Lucene)
    cos = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)) @ np.asarray(query)
    best = [f"d{i}" for i in np.argsort(-cos)]
    for how, flt, truth in (
        ("exact", None, best[:10]),
        ("auto", None, best[:10]),  # 1,000 vectors: auto is exact
        ("exact", {"field": "group", "op": "eq", "value": "rare"}, [d for d in best if d in rare]),
    ):
        body = {"vector": query, "mode": "dense", "k": 10, "dense_search": how, "filter": flt}
        hits = client.post("/v1/collections/filtered/search", json=body).json()["hits"]
        assert [h["id"] for h in hits] == truth[:10], (how, flt)
    error_of(
        client.post(
            "/v1/collections/filtered/documents",
            json={"documents": [{"id": "x", "text": "no vector"}]},
        ),
        422,
    )


def test_batch_search(client):
    body = {
        "searches": [
            {"query": "sourdough", "k": 1},
            {"query": "black hole", "k": 1, "mode": "bm25"},
        ]
    }
    results = client.post(f"{DEMO}/search/batch", json=body).json()["results"]
    assert [r["hits"][0]["id"] for r in results] == ["bread", "blackhole"]


HAS_A_YEAR = {"field": "year", "op": "gte", "value": 0}


@pytest.mark.parametrize(
    "body",
    [
        {"query": "search engines and vectors"},
        {"query": "search engines and vectors", "fusion": "rrf", "depth": 5},
        {"query": "search engines and vectors", "mode": "bm25"},
        {"query": "search engines and vectors", "mode": "dense", "dense_search": "hnsw"},
        {"vector": [0.05] * 384, "mode": "dense", "filter": HAS_A_YEAR},
    ],
)  # fmt: skip
def test_offset_pages_through_one_ranking(client, body):
    """Pages of 4 at offsets 0, 4, 8 are the one search of 12, cut in three (depth 5 is raised
    to what the deepest page needs, as it is for k=12); BM25 matches fewer than 12."""
    whole = client.post(f"{DEMO}/search", json={**body, "k": 12, "explain": True}).json()["hits"]
    assert len(whole) > 4 and [h["rank"] for h in whole] == list(range(1, len(whole) + 1))
    pages = []
    for offset in (0, 4, 8):
        r = client.post(f"{DEMO}/search", json={**body, "k": 4, "offset": offset, "explain": True})
        assert r.status_code == 200, r.text
        pages += r.json()["hits"]
    assert pages == whole  # ids, ranks, scores, provenance, text and the explanations
    past = client.post(f"{DEMO}/search", json={**body, "k": 4, "offset": 40}).json()["hits"]
    assert past == []  # the demo has 30 documents


TOPIC_IS_FOOD = {"field": "topic", "op": "eq", "value": "food"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("demo/search", {"query": "lucene vector search", "k": 5, "timings": False}),
        ("demo/search", {"query": "bread", "mode": "bm25", "filter": TOPIC_IS_FOOD}),
        ("demo/search", {"vector": [0.05] * 384, "mode": "dense", "explain": True}),
        ("demo/search", {"query": "x", "k": 0}),
        ("demo/search", {"query": "x", "k": 10**9}),
        ("demo/search", {"query": "x", "colour": "red"}),
        ("demo/search", {"vector": ["a"] * 384, "mode": "dense"}),
        ("demo/search", {"vector": [0.1, 0.2], "mode": "dense"}),
        ("demo/search", {"query": "  ", "mode": "bm25"}),
        ("demo/search", [1, 2]),
        ("nope/search", {"query": "x"}),
        ("nope/search", {"query": "x", "k": 0}),
        ("demo/search/batch", {"searches": [{"query": "bread"}, {"query": "sky", "mode": "bm25"}]}),
        ("demo/search/batch", {"searches": [{"query": "bread"}, {"query": "x", "k": -1}]}),
    ],
)  # fmt: skip
def test_searches_answer_alike_called_directly_or_through_fastapi(client, path, body):
    """An application/json body that validates is handed to the endpoint directly; a +json
    type takes FastAPI's whole path. The answers must not tell them apart."""
    content = json.dumps(body).encode()
    answers = [
        client.post(f"/v1/collections/{path}", content=content, headers={"content-type": kind})
        for kind in ("application/json", "application/search+json")
    ]
    direct, fastapi = ((r.status_code, r.json()) for r in answers)
    assert direct == fastapi


@pytest.mark.parametrize(
    ("kind", "request_kwargs", "status"),
    [
        (
            "malformed json",
            {"content": b'{"query": "x",', "headers": {"content-type": "application/json"}},
            422,
        ),
        ("empty query", {"json": {"query": "  ", "mode": "bm25"}}, 422),
        ("no query at all", {"json": {"mode": "hybrid"}}, 422),
        ("k = 0", {"json": {"query": "x", "k": 0}}, 422),
        ("k = 10^9", {"json": {"query": "x", "k": 10**9}}, 422),
        ("wrong vector dim", {"json": {"vector": [0.1, 0.2], "mode": "dense"}}, 422),
        (
            "NaN vector",
            {
                "content": json.dumps({"vector": [float("nan")] * 384, "mode": "dense"}).encode(),
                "headers": {"content-type": "application/json"},
            },
            422,
        ),
        ("unknown field", {"json": {"query": "x", "colour": "red"}}, 422),
        (
            "bad filter op",
            {"json": {"query": "x", "filter": {"field": "a", "op": "like", "value": 1}}},
            422,
        ),
        (
            "range on a string",
            {"json": {"query": "x", "filter": {"field": "a", "op": "gt", "value": "b"}}},
            422,
        ),
        ("depth too large", {"json": {"query": "x", "depth": 10**6}}, 422),
        ("negative offset", {"json": {"query": "x", "offset": -1}}, 422),
        ("offset + k past max_k", {"json": {"query": "x", "offset": 995, "k": 10}}, 422),
        ("unknown dense search", {"json": {"query": "x", "dense_search": "ivf"}}, 422),
        ("query too long", {"json": {"query": "word " * 5000}}, 422),
    ],
)
def test_bad_search_input_is_4xx_json(client, kind, request_kwargs, status):
    error_of(client.post(f"{DEMO}/search", **request_kwargs), status)


def test_bad_write_input_is_4xx_json(client):
    docs = f"{DEMO}/documents"
    err = error_of(
        client.post(docs, json={"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}),
        422,
    )
    assert "duplicate ids" in err["message"]
    err = error_of(client.post(docs, json={"documents": [{"id": "v", "vector": [1.0, 2.0]}]}), 422)
    assert "dimension 2" in err["message"] and "384" in err["message"]
    inf = json.dumps({"documents": [{"id": "v", "vector": [float("inf")] * 384}]}).encode()
    error_of(client.post(docs, content=inf, headers={"content-type": "application/json"}), 422)
    error_of(client.post(docs, json={"documents": []}), 422)
    error_of(client.post(docs, json={"documents": [{"id": "line\nbreak", "text": "x"}]}), 422)
    big = {"documents": [{"id": "big", "text": "x" * (40 * 1024 * 1024)}]}
    assert error_of(client.post(docs, json=big), 413)["type"] == "body_too_large"
    assert client.get(f"{DEMO}").json()["documents"] == 30  # nothing was written


@pytest.mark.parametrize("name", ["..", "../etc", "a" * 65, "-x", "x y", ".hidden", "é"])
def test_bad_collection_names(client, name):
    r = client.post("/v1/collections", json={"name": name})
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/collections/..%2F..%2Fetc/search",
        "/v1/collections/%2e%2e/search",
        "/v1/collections/nope/search",
    ],
)
def test_traversal_and_unknown_collections(client, path):
    r = client.post(path, json={"query": "x"})
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/json")


def test_attach_batch_built_index(client, demo_index, tmp_path):
    import shutil

    copy = tmp_path / "built"
    shutil.copytree(demo_index, copy)
    r = client.post("/v1/collections", json={"name": "attached", "path": str(copy)})
    assert r.status_code == 201, r.text
    c = "/v1/collections/attached"
    assert (
        client.post(f"{c}/search", json={"query": "tides moon", "k": 1}).json()["hits"][0]["id"]
        == "tides"
    )
    assert (
        client.post(
            f"{c}/documents", json={"documents": [{"id": "extra", "text": "Glaciers carve fjords"}]}
        ).status_code
        == 200
    )
    assert (
        client.post(f"{c}/search", json={"query": "fjords", "mode": "bm25"}).json()["hits"][0]["id"]
        == "extra"
    )
    # the batch-built metadata is filterable (backfilled at build time)
    hits = client.post(
        f"{c}/search",
        json={
            "query": "anything",
            "mode": "dense",
            "k": 30,
            "filter": {"field": "topic", "op": "eq", "value": "garden"},
        },
    ).json()["hits"]
    assert {h["id"] for h in hits} == {"tomato", "compost"}
    assert client.delete(c).status_code == 204
    assert (copy / "manifest.json").is_file()  # detaching never deletes the user's index
    error_of(client.post("/v1/collections", json={"name": "notindex", "path": str(tmp_path)}), 400)


def test_operations_endpoints(client):
    assert client.post(f"{DEMO}/search", json={"query": "lucene"}).status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "demo" in ready.json()["collections"]
    text = client.get("/metrics").text
    assert (
        'lucene_hybrid_requests_total{method="POST",route="/v1/collections/{name}/search"' in text
    )
    assert 'lucene_hybrid_collection_documents{collection="demo"} 30.0' in text
    spec = client.get("/openapi.json").json()
    assert "/v1/collections/{name}/search" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_lone_searches_fail_cleanly_and_leave_nothing_in_flight(client):
    # One request at a time: a search with nothing to encode runs on the event loop, the rest
    # on the pool. Both paths answer errors in the same JSON shape, and the in-flight count
    # (which picks the path) comes back to zero after every outcome.
    vector = client.post(f"{DEMO}/embed", json={"texts": ["lucene"]}).json()["vectors"][0]
    loop_side = {"vector": vector, "mode": "dense"}
    for body in (loop_side, {"query": "lucene", "mode": "bm25"}, {"query": "lucene"}):
        assert (
            "k=5000"
            in error_of(client.post(f"{DEMO}/search", json=body | {"k": 5000}), 422)["message"]
        )
        assert client.post(f"{DEMO}/search", json=body | {"k": 2}).json()["hits"][0]["id"] == (
            "lucene"
        )
    error_of(client.post(f"{DEMO}/search", json=loop_side | {"vector": vector[:3]}), 422)
    error_of(client.post("/v1/collections/nope/search", json=loop_side), 404)
    assert "lucene_hybrid_requests_in_flight 0.0" in client.get("/metrics").text


def test_auth(keyed_client):
    c = keyed_client
    body = {"name": "secure", "encoder": {"kind": "precomputed", "model": "m", "dim": 2}}
    assert error_of(c.post("/v1/collections", json=body), 401)["type"] == "unauthorized"
    assert error_of(
        c.post("/v1/collections", json=body, headers={"Authorization": "Bearer nope"}), 403
    )
    ok = c.post("/v1/collections", json=body, headers={"Authorization": "Bearer other"})
    assert ok.status_code == 201, ok.text
    doc = {"documents": [{"id": "a", "text": "alpha", "vector": [1.0, 0.0]}]}
    error_of(c.post("/v1/collections/secure/documents", json=doc), 401)
    assert (
        c.post(
            "/v1/collections/secure/documents", json=doc, headers={"Authorization": "Bearer s3cret"}
        ).status_code
        == 200
    )
    # reads stay open unless read_requires_key
    r = c.post("/v1/collections/secure/search", json={"query": "alpha", "vector": [1.0, 0.0]})
    assert r.status_code == 200 and r.json()["hits"][0]["id"] == "a"


def test_overload_gets_503_with_retry_after(tmp_path):
    """One slot, a short wait: a request arriving while a long batch runs is refused, not hung."""
    import threading
    import time

    from fastapi.testclient import TestClient

    from lucene_hybrid.server.api.app import create_app
    from lucene_hybrid.server.settings import load_settings

    settings = load_settings(
        data_dir=tmp_path,
        demo_collection=True,
        limits={"max_inflight": 1, "max_wait_s": 0.05, "max_batch_queries": 100},
    )
    with TestClient(create_app(settings)) as c:
        long_batch = {"searches": [{"query": f"query number {i}", "k": 100} for i in range(100)]}
        statuses: list[int] = []
        worker = threading.Thread(
            target=lambda: statuses.append(
                c.post(f"{DEMO}/search/batch", json=long_batch).status_code
            )
        )
        worker.start()
        time.sleep(0.5)  # let the batch take the only slot first
        refused = None
        for _ in range(200):
            r = c.post(f"{DEMO}/search", json={"query": "x"})
            if r.status_code == 503:
                refused = r
                break
        worker.join()
        assert statuses == [200]
        assert refused is not None, "no request was refused while the only slot was taken"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["type"] == "overloaded"
        assert c.get("/healthz").status_code == 200  # operations stay outside the queue


def test_eval_against_a_running_collection_matches_local(client):
    """`lucene-hybrid eval --server`: candidates over HTTP give the same metrics as in-process."""
    from lucene_hybrid.evaluation.experiment import Split, run_experiment
    from lucene_hybrid.evaluation.runner import LocalRetriever, RemoteRetriever
    from lucene_hybrid.search.hybrid import open_index

    topics = {"1": "which star pulls the sea up and down", "2": "sourdough starter", "3": "  "}
    qrels = {"1": {"tides": 1}, "2": {"bread": 2}, "3": {"rrf": 1}}
    split = Split("t", topics, qrels)
    remote = RemoteRetriever("http://testserver", "demo", client=client)
    path = client.get(DEMO).json()["path"]
    local_searcher = open_index(path)
    try:
        results = [
            run_experiment(
                r,
                split,
                name="x",
                index="x",
                configs=("bm25", "dense", "default"),
                metrics=("nDCG@10", "MRR@10"),
                k=10,
            )
            for r in (remote, LocalRetriever(local_searcher))
        ]
    finally:
        local_searcher.close()
    means = [[row["mean"] for row in res["rows"]] for res in results]
    assert means[0] == means[1]
    assert means[0][0]["MRR@10"] == pytest.approx(2 / 3)  # two of three queries: tides/bread first


def test_reads_can_require_a_key_too(tmp_path):
    from fastapi.testclient import TestClient

    from lucene_hybrid.server.api.app import create_app
    from lucene_hybrid.server.settings import load_settings

    settings = load_settings(
        data_dir=tmp_path, demo_collection=False, api_keys="k1", read_requires_key=True
    )
    with TestClient(create_app(settings)) as c:
        assert error_of(c.get("/v1/collections"), 401)["type"] == "unauthorized"
        assert c.get("/v1/collections", headers={"Authorization": "Bearer k1"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes stay open


def test_linear_fusion_takes_bm25_ties_as_ties(client):
    """Every document holds the query word once and is as long as the others: Lucene scores
    them alike, and linear fusion (either normalization) ranks them as dense does, where the
    BM25 list's tie-break steps once ranked them by id."""
    name = "/v1/collections/ties"
    body = {"name": "ties", "encoder": {"kind": "precomputed", "dim": 2}}
    assert client.post("/v1/collections", json=body).status_code == 201
    docs = [{"id": f"d{i}", "text": f"shoe x{i}", "vector": [1, i / 10]} for i in range(10)]
    assert client.post(f"{name}/documents", json={"documents": docs}).status_code == 200
    q = {"query": "shoe", "vector": [0, 1], "k": 10}
    bm25 = client.post(f"{name}/search", json={**q, "mode": "bm25"}).json()["hits"]
    assert len({round(h["score"], 4) for h in bm25}) == 1  # one tie, told apart by id
    dense = [
        h["id"] for h in client.post(f"{name}/search", json={**q, "mode": "dense"}).json()["hits"]
    ]
    assert dense != [h["id"] for h in bm25]
    for norm, alpha in (("minmax", 0.5), ("zscore", 0.3), ("zscore", 0.7)):
        fusion = {"fusion": "linear", "normalization": norm, "alpha": alpha}
        hits = client.post(f"{name}/search", json={**q, **fusion}).json()["hits"]
        assert [h["id"] for h in hits] == dense, (norm, alpha)
        assert len({h["bm25_score"] for h in hits}) == 1
