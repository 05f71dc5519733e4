"""uvicorn's HTTP protocol (httptools) with the API's JSON errors below the app, and a cap on a
request's head.

A request that is not HTTP/1.1, or whose request line passes httptools' 64 KiB, never reaches
the app: uvicorn answers it itself, in plain text. Here that answer is the API's JSON error.
httptools also puts no limit on the headers (a 20 MB header was accepted and held), so a
request whose line and headers run past ``HEAD_LIMIT`` gets a 431 and its connection closes.
"""

from __future__ import annotations

import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024  # bytes of request line and headers, beyond the chunk that began them
_REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


class JsonErrorsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` answering what it cannot parse as the app answers bad input."""

    _in_head = True  # until the current request's headers are complete
    _began = False  # a request began in the chunk being parsed
    _head_bytes = 0  # bytes received for the current head after the chunk that began it

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._began, self._head_bytes = True, True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        self._began = False
        super().data_received(data)
        # Only chunks wholly inside one head count: a chunk that began a request may also hold
        # the end of the one before it (pipelining), so the cap is HEAD_LIMIT plus one chunk.
        if self._in_head and not self._began and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_LIMIT:
                log.warning("request line and headers over %d bytes: refused", HEAD_LIMIT)
                self._send_error(
                    431,
                    "headers_too_large",
                    f"the request line and headers exceed {HEAD_LIMIT // 1024} KiB; "
                    "send long queries in a POST body",
                )

    def send_400_response(self, msg: str) -> None:
        self._send_error(
            400,
            "bad_request",
            f"{msg.rstrip('.')}: not parseable as HTTP/1.1 (or a request line over 64 KiB)",
        )

    def _send_error(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
