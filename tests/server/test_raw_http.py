"""What a real server answers below the app, over a raw socket: a request that is not HTTP, a
request line past the parser's limit and headers past the server's cap each get the API's JSON
error (never uvicorn's plain text), large but ordinary heads and bodies pass, and the server
stays up."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest
from serverproc import Server

pytestmark = pytest.mark.slow


def exchange(srv: Server, *chunks: bytes, pause: float = 0.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``chunks`` (``pause`` s apart, so each arrives on its own) and read the answer:
    status, headers (lower-case names) and body. Sending stops if the server closes first."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        return answer_on(s)


def answer_on(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The next answer on ``s``: status, headers (lower-case names) and body."""
    data = b""
    while True:
        try:
            part = s.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        data += part
        head, sep, body = data.partition(b"\r\n\r\n")
        length = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
        if sep and length and len(body) >= int(length[0].split(b":")[1]):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return int(status_line.split()[1]), headers, body


def json_error(answer: tuple[int, dict[str, str], bytes], status: int, kind: str) -> str:
    code, headers, body = answer
    assert code == status, (code, body[:300])
    assert headers["content-type"] == "application/json", headers
    error = json.loads(body)["error"]
    assert error["type"] == kind, error
    return str(error["message"])


def test_malformed_and_oversized_requests_get_json_errors(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        # Not HTTP at all.
        message = json_error(exchange(srv, b"HELLO THERE\r\n\r\n"), 400, "bad_request")
        assert "HTTP/1.1" in message
        # A request line past httptools' 64 KiB.
        line = b"GET /v1/collections?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        json_error(exchange(srv, line), 400, "bad_request")
        # Headers past the cap, arriving a piece at a time: refused before they end.
        pieces = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
        pieces += [b"X-Pad-%d: %s\r\n" % (i, b"p" * 8000) for i in range(40)]  # 320 KB
        answer = exchange(srv, *pieces, b"\r\n", pause=0.01)
        message = json_error(answer, 431, "headers_too_large")
        assert "POST body" in message and answer[1]["connection"] == "close"
        # A large but ordinary head passes, as does a body far larger than the cap.
        big_head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 30_000 + b"\r\n\r\n"
        assert exchange(srv, big_head)[0] == 200
        body = json.dumps({"query": "x " * 150_000, "mode": "bm25"}).encode()
        post = b"POST /v1/collections/none/search HTTP/1.1\r\nHost: x\r\n"
        post += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        json_error(exchange(srv, post + body), 404, "not_found")
        # Two requests in one write (pipelining), the second's head left open a while: served.
        first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n"
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            s.sendall(first)
            time.sleep(0.2)
            s.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
            answers = b""
            while part := s.recv(65536):
                answers += part
        assert answers.count(b"HTTP/1.1 200 OK") == 2, answers[:500]
        assert srv.get("/healthz").status_code == 200
    finally:
        srv.stop()


def scraped(via: Server | httpx.Client, name: str) -> float:
    """One unlabelled lucene_hybrid_* value from /metrics, read through ``via``."""
    text = via.get("/metrics").text
    found = re.search(rf"^lucene_hybrid_{name} (\S+)$", text, re.M)
    assert found, text[:2000]
    return float(found[1])


def test_stalled_heads_and_bodies_time_out_and_free_their_slots(tmp_path):
    env = {
        "LUCENE_HYBRID_LIMITS__HEAD_TIMEOUT_S": "1",
        "LUCENE_HYBRID_LIMITS__BODY_TIMEOUT_S": "2",
        "LUCENE_HYBRID_LIMITS__MAX_INFLIGHT": "2",
        "LUCENE_HYBRID_LIMITS__MAX_WAIT_S": "0.5",
    }
    srv = Server(tmp_path / "data", env=env).start()
    try:
        # A head that stops half-way, and a connection that never sends anything.
        t0 = time.monotonic()
        answer = exchange(srv, b"GET /healthz HTTP/1.1\r\nHo")
        assert time.monotonic() - t0 < 10
        assert "1 s" in json_error(answer, 408, "request_timeout")
        json_error(exchange(srv), 408, "request_timeout")
        # Bodies that stall: each holds one of the two requests in flight until it times out.
        stalled = b"POST /v1/collections/none/search HTTP/1.1\r\nHost: x\r\n"
        stalled += b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query": '
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(2)]
        try:
            for s in socks:
                s.sendall(stalled)
            deadline = time.monotonic() + 1.5
            while scraped(srv, "requests_in_flight") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            busy = srv.post("/v1/collections/none/search", {"query": "x"})
            assert busy.status_code == 503, busy.text  # both slots held
            for s in socks:
                assert "stalled" in json_error(answer_on(s), 408, "request_timeout")
        finally:
            for s in socks:
                s.close()
        r = srv.post("/v1/collections/none/search", {"query": "x"})
        assert r.status_code == 404, r.text  # the slots are free again
        # A slow but steady body, each chunk within the timeout, is read whole.
        body = json.dumps({"query": "steady", "mode": "bm25"}).encode()
        head = b"POST /v1/collections/none/search HTTP/1.1\r\nHost: x\r\n"
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        chunks = [body[i : i + 8] for i in range(0, len(body), 8)]
        json_error(exchange(srv, head, *chunks, pause=0.4), 404, "not_found")
    finally:
        srv.stop()


def test_connections_past_the_cap_get_a_json_503_and_lucene_keeps_its_files(tmp_path):
    """The cap (default 1,000) is lowered to half the file limit, after raising the soft limit
    to the hard one: here 100 of 200. Connections past it are answered 503 and closed, idle
    ones within a second; a client connected before them is still served (writes included),
    and new ones are again once some close."""
    import resource

    def files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, 200))

    srv = Server(tmp_path / "data", preexec=files).start()
    try:
        assert "max_connections 1000 lowered to 100" in srv.log_path.read_text()
        body = {"name": "c", "encoder": {"kind": "precomputed", "dim": 2}}
        assert srv.post("/v1/collections", body).status_code == 201
        docs = {"documents": [{"id": f"d{i}", "text": "t", "vector": [1, i]} for i in range(5)]}
        with httpx.Client(base_url=srv.url, timeout=30) as early:  # connected before the flood
            assert early.get("/healthz").status_code == 200
            idle = [
                socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(99)
            ]
            time.sleep(0.5)  # the server has accepted them all
            r = early.post("/v1/collections/c/documents", json=docs)  # still served
            assert r.status_code == 200, r.text
            answer = exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert "100 open connections" in json_error(answer, 503, "too_many_connections")
            assert answer[1]["retry-after"] == "1" and answer[1]["connection"] == "close"
            t0 = time.monotonic()
            json_error(exchange(srv), 503, "too_many_connections")  # sends nothing
            assert time.monotonic() - t0 < 5
            assert scraped(early, "connections_open") >= 100  # the early one and 99 idle
            assert scraped(early, "connections_refused_total") == 2
            for s in idle[:3]:
                s.close()
            time.sleep(0.5)
            assert srv.post("/v1/collections/c/documents", docs).status_code == 200
        for s in idle:
            s.close()
        assert srv.get("/v1/collections/c").json()["documents"] == 5
        assert "Traceback" not in srv.log_path.read_text()
    finally:
        srv.stop()
