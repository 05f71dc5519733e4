"""The OpenAI encoder against a small local OpenAI-compatible server, through the real client."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lucene_hybrid.indexing.encoders import EncoderSpec, load_encoder
from lucene_hybrid.indexing.errors import EncoderError

DIM = 8


def fake_embedding(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 + 0.01 for b in digest[:dim]]


class EmbeddingService:
    """Answers POST /v1/embeddings like OpenAI; can fail the first N calls with a status."""

    def __init__(self, fail_first: int = 0, fail_status: int = 429):
        self.requests: list[dict] = []
        self.fail_left = fail_first
        self.fail_status = fail_status
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.requests.append({"auth": self.headers.get("Authorization"), **body})
                if service.fail_left > 0:
                    service.fail_left -= 1
                    self._send(
                        service.fail_status,
                        {"error": {"message": "slow down", "type": "rate_limit"}},
                        {"retry-after-ms": "10"},
                    )
                    return
                if self.headers.get("Authorization") != "Bearer test-key":
                    self._send(
                        401, {"error": {"message": "bad key", "type": "invalid_request_error"}}
                    )
                    return
                dim = body.get("dimensions") or DIM
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_embedding(t, dim)}
                    for i, t in enumerate(body["input"])
                ]
                data.reverse()  # the client must order by index, not by position
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

            def _send(self, status, payload, headers=None):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


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
        with pytest.raises(EncoderError, match="failed after retries"):
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
