"""Hostile and odd input, through the real app: each gets a 200 that means what it says, or a
4xx with a JSON error body, and never a 500 or a damaged collection."""

from __future__ import annotations

import json
import math
import threading
from urllib.parse import quote

import httpx
import pytest

C = "/v1/collections"
DIM = 4


@pytest.fixture(scope="module")
def vecs(client):
    """A collection of caller-supplied 4-d vectors (no model needed)."""
    r = client.post(C, json={"name": "hostile", "encoder": {"kind": "precomputed", "dim": DIM}})
    assert r.status_code == 201, r.text
    return f"{C}/hostile"


def is_json_error(r: httpx.Response, *statuses: int) -> bool:
    body = r.json()
    return r.status_code in statuses and set(body["error"]) == {"type", "message"}


@pytest.mark.parametrize(
    "query",
    [
        'lucene AND OR ( " * ~ ^ : vector',
        "title:lucene contents:(vector OR search)^3",
        '"unclosed phrase about lucene',
        "lucene~2 vect* ?earch [a TO z] {b TO c} /regex.*/",
        "lucene && || ! - + \\ / search",
        "AND",
        "(((((",
        "*",
    ],
)
def test_lucene_query_syntax_is_plain_text(client, query):
    for mode in ("bm25", "hybrid"):
        r = client.post(f"{C}/demo/search", json={"query": query, "mode": mode, "k": 5})
        assert r.status_code == 200, r.text
    if "lucene" in query:  # the words around the syntax still match as words
        hits = client.post(f"{C}/demo/search", json={"query": query, "mode": "bm25"}).json()
        assert hits["hits"], query


def test_long_queries(client):
    limit = client.app.state.settings.limits.max_query_chars
    # CJK ideographs are one term each: 4,096 distinct terms, over Lucene's 1,024-clause default.
    terms = "".join(chr(0x4E00 + i) for i in range(limit))
    words = " ".join(f"w{i:x}" for i in range(limit))[:limit]
    for query in (terms, words):
        for mode in ("bm25", "hybrid"):
            r = client.post(f"{C}/demo/search", json={"query": query, "mode": mode})
            assert r.status_code == 200, r.text
    for mode in ("bm25", "hybrid"):
        r = client.post(f"{C}/demo/search", json={"query": terms, "mode": mode})
        assert r.status_code == 200, r.text
    r = client.post(f"{C}/demo/search", json={"query": "x" * (limit + 1)})
    assert is_json_error(r, 413, 422) and str(limit) in r.json()["error"]["message"]


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_queries_are_4xx(client, query):
    for mode in ("bm25", "dense", "hybrid"):
        r = client.post(f"{C}/demo/search", json={"query": query, "mode": mode})
        assert is_json_error(r, 422), (mode, r.text)


def test_stopword_only_query_finds_nothing_by_bm25(client):
    r = client.post(f"{C}/demo/search", json={"query": "the of and", "mode": "bm25"})
    assert r.status_code == 200 and r.json()["hits"] == []


ODD_TEXT = [
    "中文检索 日本語の検索 한국어 검색",  # CJK
    "البحث الهجين في لوسين",  # RTL
    "search 🔍🚀 with emoji 👩‍👩‍👧",  # emoji, ZWJ sequence
    "cafe\u0301 na\u0308ive Z\u0351\u0334a\u0362lgo",  # combining marks
    "nul\u0000inside and \u0001\u0007\u001b control \x7f chars",  # NUL and controls
    "\ufeffBOM and \u200b zero-width \u2028 line separator",
]


@pytest.mark.parametrize("text", ODD_TEXT)
def test_odd_unicode_round_trips_and_is_searchable(client, text):
    r = client.post(f"{C}/demo/search", json={"query": text, "k": 3})
    assert r.status_code == 200, r.text
    docid = f"unicode-{ODD_TEXT.index(text)}"
    r = client.post(f"{C}/demo/documents", json={"documents": [{"id": docid, "text": text}]})
    assert r.status_code == 200, r.text
    got = client.post(f"{C}/demo/documents/get", json={"ids": [docid]}).json()["documents"]
    assert got[0]["text"] == text  # byte for byte, NUL and all
    client.post(f"{C}/demo/documents/delete", json={"ids": [docid]})


def test_documents_with_no_text(client, vecs):
    r = client.post(
        f"{vecs}/documents", json={"documents": [{"id": "empty", "vector": [1, 0, 0, 0]}]}
    )
    assert r.status_code == 200, r.text
    got = client.get(f"{vecs}/documents/empty").json()
    assert got["text"] == "" and got["metadata"] == {}
    hits = client.post(f"{vecs}/search", json={"vector": [1, 0, 0, 0], "mode": "dense"}).json()
    assert hits["hits"][0]["id"] == "empty"
    # Server-side embedding of an empty text is allowed too (a metadata-only record).
    r = client.post(f"{C}/demo/documents", json={"documents": [{"id": "blank", "text": ""}]})
    assert r.status_code == 200, r.text
    bm25 = client.post(f"{C}/demo/search", json={"query": "blank", "mode": "bm25"}).json()
    assert "blank" not in {h["id"] for h in bm25["hits"]}
    client.post(f"{C}/demo/documents/delete", json={"ids": ["blank"]})


@pytest.mark.parametrize(
    "docid",
    ["a/b/c", "../../etc/passwd", "with space", "ünïcödé-ид-标识", "emoji🔑", "%2F", "q?x=1#f"],
)
def test_odd_ids_round_trip(client, vecs, docid):
    doc = {"id": docid, "text": f"odd id {docid}", "vector": [0, 1, 0, 0]}
    assert client.post(f"{vecs}/documents", json={"documents": [doc]}).status_code == 200
    got = client.post(f"{vecs}/documents/get", json={"ids": [docid]}).json()["documents"]
    assert [d["id"] for d in got] == [docid]
    if "%" not in docid:  # TestClient decodes the path twice; test_server_e2e covers '%'
        one = client.get(f"{vecs}/documents/{quote(docid, safe='')}")
        assert one.status_code == 200 and one.json()["id"] == docid, one.text
    assert client.post(f"{vecs}/documents/delete", json={"ids": [docid]}).status_code == 200
    assert client.post(f"{vecs}/documents/get", json={"ids": [docid]}).json()["documents"] == []


@pytest.mark.parametrize("docid", ["", "line\nbreak", "tab\tid", "nul\u0000id"])
def test_unusable_ids_are_4xx(client, vecs, docid):
    doc = {"id": docid, "text": "x", "vector": [0, 1, 0, 0]}
    assert is_json_error(client.post(f"{vecs}/documents", json={"documents": [doc]}), 422)


def test_metadata_nested_large_and_colliding_keys(client, vecs):
    metadata = {
        "id": "not-the-doc-id",
        "contents": "not the text",
        "raw": {"nested": {"deeper": [1, {"x": None}]}},
        "vector": [9, 9, 9],
        "m.id": "prefix-lookalike",
        "m#n": 3,
        "": "empty key",
        "a.b": "dotted key",
        "big": list(range(10_000)),
        # numbers a JSON parser may bend: past 64 bits, subnormal, inexact in binary
        "numbers": [2**70 + 1, -(10**30), 5e-324, 0.1, 1.7976931348623157e308, -0.0],
    }
    doc = {"id": "meta", "text": "metadata torture", "metadata": metadata, "vector": [0, 0, 1, 0]}
    r = client.post(f"{vecs}/documents", json={"documents": [doc]})
    assert r.status_code == 200, r.text
    got = client.get(f"{vecs}/documents/meta", params={"with_vectors": True}).json()
    assert got["id"] == "meta" and got["text"] == "metadata torture"
    assert got["metadata"] == metadata
    assert [type(x) for x in got["metadata"]["numbers"]] == [int, int] + [float] * 4
    assert got["vector"] == [0.0, 0.0, 1.0, 0.0]  # the real vector, not metadata's
    search = {"vector": [0, 0, 1, 0], "mode": "dense", "k": 10}
    # A filter on metadata key "id" reads the metadata, not the document id.
    hit = client.post(
        f"{vecs}/search",
        json={**search, "filter": {"field": "id", "op": "eq", "value": "not-the-doc-id"}},
    ).json()["hits"]
    assert [h["id"] for h in hit] == ["meta"]
    miss = client.post(
        f"{vecs}/search", json={**search, "filter": {"field": "id", "op": "eq", "value": "meta"}}
    ).json()["hits"]
    assert miss == []
    big = client.post(
        f"{vecs}/search", json={**search, "filter": {"field": "big", "op": "eq", "value": 9999}}
    ).json()["hits"]
    assert [h["id"] for h in big] == ["meta"]


@pytest.mark.parametrize(
    "vector, words",
    [
        ([math.nan, 0, 0, 1], "finite"),
        ([math.inf, 0, 0, 1], "finite"),
        ([1e39, 0, 0, 1], "overflow"),
        ([0, 0, 0, 0], "zero"),
        ([1, 2, 3], "dimension 3"),
        ([1] * 5000, "dimension 5000"),
    ],
)
def test_bad_vectors_are_4xx_naming_the_problem(client, vecs, vector, words):
    body = json.dumps({"documents": [{"id": "bad", "vector": vector}]})  # NaN/Infinity literals
    r = client.post(f"{vecs}/documents", content=body, headers={"content-type": "application/json"})
    assert is_json_error(r, 422), r.text
    assert words in r.json()["error"]["message"]
    q = json.dumps({"vector": vector, "mode": "dense"})
    r = client.post(f"{vecs}/search", content=q, headers={"content-type": "application/json"})
    assert is_json_error(r, 422), r.text
    assert client.post(f"{vecs}/documents/get", json={"ids": ["bad"]}).json()["documents"] == []


def test_concurrent_upserts_of_one_id_leave_one_whole_version(client, vecs):
    errors: list[str] = []

    def upsert(version: int) -> None:
        for _ in range(5):
            doc = {
                "id": "contended",
                "text": f"version {version}",
                "metadata": {"v": version},
                "vector": [1, version, 0, 0],
            }
            r = client.post(f"{vecs}/documents", json={"documents": [doc]})
            if r.status_code != 200:
                errors.append(r.text)

    before = client.get(f"{vecs}").json()["documents"]
    threads = [threading.Thread(target=upsert, args=(v,)) for v in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = client.get(f"{vecs}/documents/contended", params={"with_vectors": True}).json()
    v = got["metadata"]["v"]
    assert got["text"] == f"version {v}" and round(got["vector"][1] / got["vector"][0]) == v
    assert client.get(f"{vecs}").json()["documents"] == before + 1  # one document, not eight
    hits = client.post(f"{vecs}/search", json={"query": "version", "mode": "bm25"}).json()["hits"]
    assert [h["id"] for h in hits].count("contended") == 1


def test_non_finite_numbers_anywhere_are_4xx(client, vecs):
    def post(path: str, body: dict) -> httpx.Response:
        raw = json.dumps(body)  # Python writes NaN / Infinity literals; JSON has neither
        return client.post(path, content=raw, headers={"content-type": "application/json"})

    doc = {"id": "nan-meta", "vector": [1, 0, 0, 0], "metadata": {"a": [1, {"b": math.nan}]}}
    r = post(f"{vecs}/documents", {"documents": [doc]})
    assert is_json_error(r, 422) and "a[1].b" in r.json()["error"]["message"]
    for body in (
        {"query": "x", "weights": [math.inf, 1], "fusion": "rrf"},
        {"query": "x", "k1": math.inf},
        {"query": "x", "filter": {"field": "n", "op": "gt", "value": math.nan}},
        # Finite, but Lucene takes k1 as a 32-bit float, where it is infinity (a 500 before).
        {"query": "x", "k1": 3.5e38},
        # Each finite, but an RRF score can reach their sum, which is not (a null score before).
        {"query": "x", "weights": [1.7e308, 1.7e308], "fusion": "rrf", "rrf_k": 0},
    ):
        assert is_json_error(post(f"{C}/demo/search", body), 422), body
    for k1 in (math.inf, 1e308):  # 1e308: a collection whose every BM25 search was a 500
        create = {
            "name": "big-k1",
            "encoder": {"kind": "precomputed", "dim": 2},
            "bm25": {"k1": k1},
        }
        r = post(C, create)
        assert is_json_error(r, 422) and "bm25.k1" in r.json()["error"]["message"]
        assert client.get(f"{C}/big-k1").status_code == 404


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"field": "a", "op": "like", "value": 1}, "filter.op: Input should be 'eq', 'ne'"),
        (
            {"and": [{"field": "a", "value": 1}, {"field": "b", "op": "gt", "value": "z"}]},
            "filter.and.1: Value error, 'gt' compares numbers; got 'z'",
        ),
        (
            {"not": {"or": [{"field": "a", "value": [1]}]}},
            "filter.not.or.0: Value error, 'eq' needs a single value, not a list",
        ),
        ({"and": []}, "filter.and: List should have at least 1 item"),
        (
            {"feild": "a", "value": 1},
            "filter.field: Field required; filter.feild: Extra inputs are not permitted",
        ),
        ({"or": [{"field": "a", "value": 1}], "x": 1}, "filter.x: Extra inputs are not permitted"),
        (
            {"field": "a", "op": "in", "value": [1, None]},
            "filter.value: Value error, a value is a string, number or boolean",
        ),
    ],
)
def test_a_bad_filter_is_told_what_is_wrong_with_it(client, bad, message):
    """Only the kind of filter its keys name is validated: the message says what is wrong with
    it, not why it is none of the four kinds (a condition, and, or, not)."""
    for path in ("demo/search", "demo/documents/get", "demo/documents/delete"):
        body = {"query": "x", "filter": bad} if path.endswith("search") else {"filter": bad}
        r = client.post(f"{C}/{path}", json=body)
        assert is_json_error(r, 422), r.text
        got = r.json()["error"]["message"]
        assert got.startswith(message) and "Condition" not in got and "And" not in got, got
    assert client.get(f"{C}/demo").json()["documents"] == 30  # the delete deleted nothing


@pytest.mark.parametrize("value", [1e38, -3e38, 1e-30, 1e-45])
def test_vectors_whose_squares_leave_float32_keep_their_direction(client, vecs, value):
    """Four values of 1e38 are a float32 vector along the diagonal, but their squares overflow
    float32 (1e-30's underflow): it was stored as zeros (refused as all-zero). It must be found
    by itself, scoring as a unit vector."""
    docid = f"extreme-{value}"
    doc = {"id": docid, "vector": [value] * DIM}
    assert client.post(f"{vecs}/documents", json={"documents": [doc]}).status_code == 200
    got = client.post(f"{vecs}/documents/get", json={"ids": [docid], "with_vectors": True})
    stored = got.json()["documents"][0]["vector"]
    assert stored == pytest.approx([math.copysign(0.5, value)] * DIM, rel=1e-6)
    for search in ("exact", "hnsw"):
        body = {"vector": [value] * DIM, "mode": "dense", "k": 1, "dense_search": search}
        hit = client.post(f"{vecs}/search", json=body).json()["hits"][0]
        assert hit["id"] == docid and hit["dense_score"] == pytest.approx(1.0, abs=1e-5), search
    client.post(f"{vecs}/documents/delete", json={"ids": [docid]})


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        (
            "demo/documents",
            {"documents": [{"id": "s1", "text": "lone \ud800"}]},
            "documents[0].text",
        ),
        ("demo/documents", {"documents": [{"id": "s\udc00", "text": "ok"}]}, "documents[0].id"),
        (
            "hostile/documents",
            {"documents": [{"id": "s2", "vector": [1, 0, 0, 0], "metadata": {"a": ["\udfff"]}}]},
            "documents[0].metadata.a[0]",
        ),
        (
            "hostile/documents",
            {"documents": [{"id": "s3", "vector": [1, 0, 0, 0], "metadata": {"k\ud800": 1}}]},
            "documents[0].metadata key",
        ),
        ("demo/search", {"query": "tides \ud800"}, "query"),
        (
            "demo/search",
            {"query": "tides", "mode": "bm25", "filter": {"field": "a", "value": "\ud800"}},
            "filter.value",
        ),
        (
            "demo/search/batch",
            {"searches": [{"query": "ok"}, {"query": "\udbff"}]},
            "searches[1].query",
        ),
        ("demo/embed", {"texts": ["ok", "\ud800"]}, "texts[1]"),
        ("demo/documents/get", {"ids": ["\ud800"]}, "ids[0]"),
        ("demo/documents/delete", {"ids": ["\ud800"]}, "ids[0]"),
    ],
)
def test_lone_surrogates_are_4xx_naming_where_and_write_nothing(client, vecs, path, body, where):
    """A "\\ud800" escape is valid JSON but not text: tokenizers and Lucene fail on it (a 500
    before)."""
    name = path.split("/")[0]
    before = client.get(f"{C}/{name}").json()["documents"]
    raw = json.dumps(body)  # ensure_ascii: the lone surrogates travel as \ud800 escapes
    r = client.post(f"{C}/{path}", content=raw, headers={"content-type": "application/json"})
    assert is_json_error(r, 422), r.text
    message = r.json()["error"]["message"]
    assert message.startswith(where) and "lone surrogate" in message
    assert client.get(f"{C}/{name}").json()["documents"] == before


def test_an_escaped_surrogate_pair_is_text(client):
    raw = json.dumps({"documents": [{"id": "pair", "text": "rocket \U0001f680 launch"}]})
    assert "\\ud83d\\ude80" in raw
    headers = {"content-type": "application/json"}
    assert client.post(f"{C}/demo/documents", content=raw, headers=headers).status_code == 200
    got = client.post(f"{C}/demo/documents/get", json={"ids": ["pair"]}).json()["documents"]
    assert got[0]["text"] == "rocket \U0001f680 launch"
    client.post(f"{C}/demo/documents/delete", json={"ids": ["pair"]})


def test_routing_errors_are_json_with_allow(client):
    r = client.put(f"{C}/demo/documents/get")
    assert is_json_error(r, 405) and r.headers["allow"] == "POST"
    r = client.put(C)
    assert is_json_error(r, 405) and r.headers["allow"] == "GET, POST"
    assert is_json_error(client.get("/no/such/route"), 404)
    bad = client.post(
        f"{C}/demo/search", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert is_json_error(bad, 400, 422)


def test_a_batch_lucene_refuses_is_rolled_back_whole(tmp_path):
    """Lucene rejects the third document (an immense metadata term) after taking two: none of
    the batch stays, and acknowledged writes not yet committed survive the rollback."""
    from fastapi.testclient import TestClient

    from lucene_hybrid.server.api.app import create_app
    from lucene_hybrid.server.settings import load_settings

    settings = load_settings(data_dir=tmp_path, demo_collection=False, commit_interval_s=3600)
    with TestClient(create_app(settings)) as c:
        body = {"name": "rb", "encoder": {"kind": "precomputed", "dim": DIM}}
        assert c.post(C, json=body).status_code == 201
        kept = [{"id": f"k{i}", "text": "kept", "vector": [1, i, 0, 0]} for i in range(10)]
        assert c.post(f"{C}/rb/documents", json={"documents": kept}).status_code == 200
        q = {"query": "kept", "vector": [1, 3, 0, 0], "mode": "dense", "k": 1}
        assert c.post(f"{C}/rb/search", json=q).json()["hits"][0]["id"] == "k3"
        batch = [{"id": f"b{i}", "text": "batch", "vector": [0, 1, i, 0]} for i in range(5)]
        batch[2]["metadata"] = {"huge": "x" * 40_000}  # one term over Lucene's 32,766 bytes
        r = c.post(f"{C}/rb/documents", json={"documents": batch})
        assert is_json_error(r, 422) and "rolled back" in r.json()["error"]["message"]
        ids = [d["id"] for d in kept + batch]
        got = c.post(f"{C}/rb/documents/get", json={"ids": ids}).json()["documents"]
        assert [d["id"] for d in got] == [d["id"] for d in kept]
        assert c.get(f"{C}/rb").json()["documents"] == 10
        # Searches use the reopened halves, the in-memory exact copy included.
        for mode in ("dense", "hybrid", "bm25"):
            q = {"query": "kept", "vector": [1, 3, 0, 0], "mode": mode, "k": 3}
            s = c.post(f"{C}/rb/search", json=q)
            assert s.status_code == 200, s.text
            assert {h["id"] for h in s.json()["hits"]} <= {d["id"] for d in kept}
            assert mode != "dense" or s.json()["hits"][0]["id"] == "k3"
        # The collection still takes writes, and they are all there after a restart.
        assert c.post(f"{C}/rb/documents", json={"documents": batch[:2]}).status_code == 200
    with TestClient(create_app(settings)) as c:
        assert c.get(f"{C}/rb").json()["documents"] == 12


def test_answers_past_max_response_chars_are_refused_or_paged(tmp_path):
    """Stored text an answer would carry past ``max_response_chars``: a search (or a batch of
    them, which share one budget) or a get gets a 422 and the server reads no further; a page
    of a walk ends early, and the walk still yields every document once."""
    from fastapi.testclient import TestClient

    from lucene_hybrid.server.api.app import create_app
    from lucene_hybrid.server.settings import load_settings

    budget = 10_000
    limits = {"max_response_chars": budget}
    settings = load_settings(data_dir=tmp_path, demo_collection=False, limits=limits)
    with TestClient(create_app(settings)) as c:
        body = {"name": "wide", "encoder": {"kind": "precomputed", "dim": DIM}}
        assert c.post(C, json=body).status_code == 201
        docs = [
            {"id": f"d{i:02d}", "text": "common " * 300 + f"w{i}", "vector": [1, i, 0, 0]}
            for i in range(30)
        ]  # ~2,100 characters each: four fit in the budget, five do not
        docs.append({"id": "huge", "text": "common " + "x" * 12_000, "vector": [0, 0, 1, 0]})
        assert c.post(f"{C}/wide/documents", json={"documents": docs}).status_code == 200

        def search(**q):
            return c.post(f"{C}/wide/search", json={"query": "common", "mode": "bm25", **q})

        fits = search(k=3)
        assert fits.status_code == 200 and all(len(h["text"]) > 2000 for h in fits.json()["hits"])
        over = search(k=20)
        assert is_json_error(over, 422) and over.json()["error"]["type"] == "response_too_large"
        assert "max_response_chars" in over.json()["error"]["message"]
        bare = search(k=31, include_text=False)
        assert bare.status_code == 200 and len(bare.json()["hits"]) == 31
        three = {"searches": [{"query": "common", "mode": "bm25", "k": 2}] * 3}
        r = c.post(f"{C}/wide/search/batch", json=three)  # 6 texts: each search fits, all do not
        assert is_json_error(r, 422) and r.json()["error"]["type"] == "response_too_large"
        two = {"searches": three["searches"][:2]}
        assert c.post(f"{C}/wide/search/batch", json=two).status_code == 200

        ids = [d["id"] for d in docs[:10]]
        r = c.post(f"{C}/wide/documents/get", json={"ids": ids})
        assert is_json_error(r, 422) and r.json()["error"]["type"] == "response_too_large"
        assert (
            len(c.post(f"{C}/wide/documents/get", json={"ids": ids[:4]}).json()["documents"]) == 4
        )

        pages, after = [], None
        while True:
            page = c.post(f"{C}/wide/documents/get", json={"limit": 1000, "after": after})
            assert page.status_code == 200, page.text
            pages.append(page.json()["documents"])
            after = page.json()["next"]
            if after is None:
                break
        walked = [d["id"] for p in pages for d in p]
        assert walked == sorted(d["id"] for d in docs)
        for p in pages:  # each page within the budget, but for a document past it alone
            assert sum(len(d["text"]) for d in p) <= budget or [d["id"] for d in p] == ["huge"]
        assert [len(p) for p in pages if p[0]["id"] != "huge"][0] == 4
