"""The OpenAI encoder against a small local OpenAI-compatible server, through the real client."""

from __future__ import annotations

import numpy as np
import pytest
from json_service import DIM, EmbeddingService, fake_embedding

from lucene_hybrid.core.errors import EncoderError, EncoderUnavailable
from lucene_hybrid.indexing.encoders import EncoderSpec, load_encoder


@pytest.fixture
def service():
    svc = EmbeddingService()
    yield svc
    svc.close()


def spec(url: str, **kw) -> EncoderSpec:
    return EncoderSpec(
        kind="openai",
        model="text-embedding-test",
        base_url=url,
        dimensions=kw.pop("dimensions", DIM),
        **kw,
    )


def test_batches_orders_and_normalizes(service):
    enc = load_encoder(spec(service.url, query_prefix="q: "), api_key="test-key", batch_size=2)
    texts = ["alpha", "beta", "", "delta", "epsilon"]
    out = enc.encode_documents(texts)
    assert out.shape == (5, DIM) and enc.dim == DIM
    expected = np.asarray([fake_embedding(t or " ", DIM) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert [len(r["input"]) for r in service.requests] == [2, 2, 1]
    assert all(r["auth"] == "Bearer test-key" and r["dimensions"] == DIM for r in service.requests)
    enc.encode_queries(["x"])
    assert service.requests[-1]["input"] == ["q: x"]


def test_retries_rate_limits_with_backoff():
    svc = EmbeddingService(fail_first=2, fail_status=429)
    try:
        enc = load_encoder(spec(svc.url), api_key="test-key")
        assert enc.encode_queries(["hello"]).shape == (1, DIM)
        assert len(svc.requests) == 3
    finally:
        svc.close()


def test_gives_up_with_a_clear_error_after_retries():
    svc = EmbeddingService(fail_first=100, fail_status=503)
    try:
        enc = load_encoder(spec(svc.url), api_key="test-key", max_retries=1)
        with pytest.raises(EncoderUnavailable, match="failed after retries"):
            enc.encode_queries(["hello"])
        assert len(svc.requests) == 2
    finally:
        svc.close()


def test_wrong_key_is_reported(service):
    enc = load_encoder(spec(service.url), api_key="wrong")
    with pytest.raises(EncoderError, match="refused the API key"):
        enc.encode_queries(["hello"])


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EncoderError, match="OPENAI_API_KEY"):
        load_encoder(spec("http://127.0.0.1:9/v1"))


def test_dimension_probed_when_unknown(service):
    enc = load_encoder(
        EncoderSpec(kind="openai", model="custom", base_url=service.url), api_key="test-key"
    )
    assert enc.dim == DIM
