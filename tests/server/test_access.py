"""API keys on a real server: every write route in the OpenAPI spec rejects a missing or wrong
key, and no key (right or wrong) ever shows up in a response or in the server's log."""

from __future__ import annotations

import re

import httpx
import pytest
from serverproc import Server

pytestmark = pytest.mark.slow

KEY = "sk-live-0123456789abcdef"
WRONG = "sk-wrong-fedcba9876543210"
READS = {
    ("GET", "/v1/collections"),
    ("GET", "/v1/collections/{name}"),
    ("POST", "/v1/collections/{name}/documents/get"),
    ("GET", "/v1/collections/{name}/documents/{doc_id}"),
    ("POST", "/v1/collections/{name}/search"),
    ("POST", "/v1/collections/{name}/search/batch"),
    ("POST", "/v1/collections/{name}/embed"),
}
OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


def routes(srv: Server) -> list[tuple[str, str]]:
    spec = srv.get("/openapi.json").json()
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)


def call(srv: Server, method: str, path: str, key: str | None) -> httpx.Response:
    url = srv.url + re.sub(r"\{name\}", "ks", path).replace("{doc_id}", "d1")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    body = None if method in ("GET", "DELETE") else {}
    return httpx.request(method, url, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("reads_need_key", [False, True])
def test_every_write_route_needs_the_key_and_keys_never_leak(tmp_path, reads_need_key):
    srv = Server(
        tmp_path / "data",
        env={
            "LUCENE_HYBRID_API_KEYS": KEY,
            "LUCENE_HYBRID_READ_REQUIRES_KEY": str(reads_need_key).lower(),
            "LUCENE_HYBRID_LOG_LEVEL": "debug",
        },
    ).start()
    seen: list[str] = []
    try:
        r = httpx.post(
            f"{srv.url}/v1/collections",
            json={"name": "ks", "encoder": {"kind": "precomputed", "dim": 2}},
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert r.status_code == 201, r.text
        spec_routes = routes(srv)
        assert set(spec_routes) >= READS | OPERATIONS, "a route this test knows is gone"
        writes = [r for r in spec_routes if r not in READS | OPERATIONS]
        assert len(writes) >= 4  # create, delete collection; upsert, delete documents
        for method, path in spec_routes:
            guarded = (method, path) in writes or (reads_need_key and (method, path) in READS)
            no_key = call(srv, method, path, None)
            wrong = call(srv, method, path, WRONG)
            right = call(srv, method, path, KEY)
            seen += [no_key.text, wrong.text, right.text, str(no_key.headers)]
            if guarded:
                assert no_key.status_code == 401, (method, path, no_key.text)
                assert no_key.headers["www-authenticate"] == "Bearer"
                assert no_key.json()["error"]["type"] == "unauthorized"
                assert wrong.status_code == 403, (method, path, wrong.text)
            else:
                assert no_key.status_code not in (401, 403), (method, path)
                assert wrong.status_code not in (401, 403), (method, path)
            assert right.status_code not in (401, 403), (method, path, right.text)
    finally:
        srv.stop()
    log = srv.log_path.read_text()
    assert "GET /v1/collections" in log  # the log did record the requests
    for secret in (KEY, WRONG):
        assert secret not in log
        assert not [text for text in seen if secret in text]
