"""A collection whose encoder is a remote OpenAI-compatible service (a stand-in on loopback,
driven through the real openai client), through the real app: when the service fails, the
answer says whose fault it is, and nothing is written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from json_service import DIM, EmbeddingService

from lucene_hybrid.server.api.app import create_app
from lucene_hybrid.server.settings import load_settings

C = "/v1/collections/remote"


@pytest.fixture
def service():
    svc = EmbeddingService()
    yield svc
    svc.close()


@pytest.fixture
def client(tmp_path, service, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    settings = load_settings(data_dir=tmp_path / "data", demo_collection=False)
    with TestClient(create_app(settings)) as c:
        encoder = {
            "kind": "openai",
            "model": "text-embedding-test",
            "base_url": service.url,
            "dimensions": DIM,
        }
        r = c.post("/v1/collections", json={"name": "remote", "encoder": encoder})
        assert r.status_code == 201, r.text
        docs = [{"id": "tide", "text": "tides and the moon"}, {"id": "wind", "text": "wind"}]
        assert c.post(f"{C}/documents", json={"documents": docs}).status_code == 200
        yield c


def error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


def test_a_failing_service_is_a_502_and_writes_nothing(client, service):
    hits = client.post(f"{C}/search", json={"query": "tides and the moon"}).json()["hits"]
    assert hits[0]["id"] == "tide" and hits[0]["dense_rank"] == 1
    service.fail_left, service.fail_status = 10**6, 503  # down, through every retry
    for mode in ("dense", "hybrid"):
        err = error(client.post(f"{C}/search", json={"query": "tides", "mode": mode}), 502)
        assert err["type"] == "encoder_unavailable" and "after retries" in err["message"]
    # BM25 needs no embedding: it still answers
    r = client.post(f"{C}/search", json={"query": "tides", "mode": "bm25"})
    assert r.status_code == 200 and r.json()["hits"][0]["id"] == "tide"
    new = {"documents": [{"id": "rain", "text": "rain"}]}
    assert error(client.post(f"{C}/documents", json=new), 502)["type"] == "encoder_unavailable"
    err = error(client.post(f"{C}/embed", json={"texts": ["x"]}), 502)
    assert err["type"] == "encoder_unavailable"
    assert client.get(C).json()["documents"] == 2  # the failed upsert wrote nothing
    service.fail_left = 0  # back up
    assert client.post(f"{C}/documents", json=new).status_code == 200
    assert client.get(C).json()["documents"] == 3


def test_a_service_that_refuses_the_input_is_the_callers_422(client, service):
    service.fail_left, service.fail_status = 10**6, 400  # e.g. over the model's context
    before = len(service.requests)
    err = error(client.post(f"{C}/search", json={"query": "tides", "mode": "dense"}), 422)
    assert err["type"] == "encoder_error" and "refused the input" in err["message"]
    assert len(service.requests) == before + 1  # a refusal is not retried


def test_a_refused_api_key_is_the_servers_fault(client, service):
    service.fail_left, service.fail_status = 10**6, 401
    err = error(client.post(f"{C}/search", json={"query": "tides", "mode": "dense"}), 502)
    assert "refused the API key" in err["message"]
