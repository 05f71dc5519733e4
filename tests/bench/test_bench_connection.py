"""`bench_http.Connection`, the load generator's HTTP/1.1 client, against a scripted socket
server: answers split across packets, several in one packet, a closing server, chunked answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from lucene_hybrid.bench.http import Connection
from lucene_hybrid.core.errors import LuceneHybridError

Script = Callable[[socket.socket, int], None]  # (accepted socket, connection number)


def answer(status: int, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def read_request(conn: socket.socket) -> bytes:
    """One request's body (the client always sends Content-Length)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return body


@contextmanager
def scripted(script: Script) -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    connections = []

    def serve() -> None:
        n = 0
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=script, args=(conn, n), daemon=True).start()
            n += 1

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in connections:
            conn.close()


def test_answers_in_pieces_and_together_are_read_by_their_length():
    def script(conn: socket.socket, _: int) -> None:
        first = read_request(conn)
        whole = answer(200, b"echo:" + first) + answer(404, b"{}")
        for i in range(0, 20):  # the first answer dribbles in byte by byte
            conn.sendall(whole[i : i + 1])
            time.sleep(0.001)
        conn.sendall(whole[20:])  # the rest of it and the whole second answer in one packet
        read_request(conn)
        conn.sendall(answer(201, b"third"))

    with scripted(script) as port:
        client = Connection("127.0.0.1", port, timeout=5)
        assert client.post("/a", b'{"q": 1}') == (200, b'echo:{"q": 1}')
        assert client.post("/b", b"x") == (404, b"{}")  # already read, with the first
        assert client.post("/c", b"y") == (201, b"third")
        client.close()


def test_a_closing_server_costs_one_request_and_the_next_reconnects():
    def script(conn: socket.socket, n: int) -> None:
        read_request(conn)
        if n == 0:
            conn.sendall(answer(200, b"bye", "Connection: close"))
        elif n == 1:
            conn.sendall(b"HTTP/1.1 200 X\r\ncontent-length: 10\r\n\r\nshort")
        else:
            conn.sendall(answer(200, b"fresh"))
            return
        conn.close()

    with scripted(script) as port:
        client = Connection("127.0.0.1", port, timeout=5)
        assert client.post("/", b"1") == (200, b"bye")
        assert client.sock is None  # the server said close
        with pytest.raises(ConnectionError):
            client.post("/", b"2")  # cut off mid-body
        assert client.post("/", b"3") == (200, b"fresh")  # a new connection
        client.close()


def test_an_answer_without_content_length_is_refused():
    def script(conn: socket.socket, _: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 X\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")

    with scripted(script) as port:
        client = Connection("127.0.0.1", port, timeout=5)
        with pytest.raises(LuceneHybridError, match="Content-Length"):
            client.post("/x", b"{}")
        assert client.sock is None
