"""A loopback HTTP service that answers POSTs with JSON, for stand-ins of remote APIs."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


class JsonService:
    """Records each request body (with its Authorization header) and sends ``answer()``'s reply.

    ``url`` ends in ``/v1``, as an OpenAI-compatible base URL does.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization")
                service.requests.append({"auth": auth, **body})
                status, payload, headers = service.answer(auth, body)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, auth: str | None, body: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()


DIM = 8  # EmbeddingService's vectors, unless a request asks for other dimensions


def fake_embedding(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 + 0.01 for b in digest[:dim]]


class EmbeddingService(JsonService):
    """Answers POST /v1/embeddings like OpenAI; can fail the first N calls with a status."""

    def __init__(self, fail_first: int = 0, fail_status: int = 429):
        self.fail_left = fail_first
        self.fail_status = fail_status
        super().__init__()

    def answer(self, auth, body):
        if self.fail_left > 0:
            self.fail_left -= 1
            error = {"error": {"message": "slow down", "type": "rate_limit"}}
            return self.fail_status, error, {"retry-after-ms": "10"}
        if auth != "Bearer test-key":
            return 401, {"error": {"message": "bad key", "type": "invalid_request_error"}}, {}
        dim = body.get("dimensions") or DIM
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(t, dim)}
            for i, t in enumerate(body["input"])
        ]
        data.reverse()  # the client must order by index, not by position
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return 200, {"object": "list", "data": data, "model": body["model"], "usage": usage}, {}
