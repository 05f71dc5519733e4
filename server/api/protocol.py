"""uvicorn's HTTP protocol (httptools) with the API's JSON errors below the app, and bounds on a
request's head: its size and the time it takes to arrive.

A request that is not HTTP/1.1, or whose request line passes httptools' 64 KiB, never reaches
the app: uvicorn answers it itself, in plain text. Here that answer is the API's JSON error.
httptools also puts no limit on the headers (a 20 MB header was accepted and held), and uvicorn
no time limit on them (a client sending one header byte a minute held its connection for good):
a head over ``max_head_bytes`` gets a 431, one not complete within ``head_timeout_s`` a 408, and
the connection closes.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import Limits

log = logging.getLogger(__name__)

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class JsonErrorsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` answering what it cannot parse as the app answers bad input."""

    head_limit = Limits().max_head_bytes  # bytes, beyond the chunk that began the head
    head_timeout_s = Limits().head_timeout_s

    _in_head = True  # until the current request's headers are complete
    _began = False  # a request began in the chunk being parsed
    _head_bytes = 0  # bytes received for the current head after the chunk that began it
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._began, self._head_bytes = True, True, 0
        if self._head_timer is None:  # a new connection's first request keeps its deadline
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        self._began = False
        super().data_received(data)
        # Only chunks wholly inside one head count: a chunk that began a request may also hold
        # the end of the one before it (pipelining), so the cap is head_limit plus one chunk.
        if self._in_head and not self._began and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit:
                log.warning("request line and headers over %d bytes: refused", self.head_limit)
                self._send_error(
                    431,
                    "headers_too_large",
                    f"the request line and headers exceed {self.head_limit} bytes; "
                    "send long queries in a POST body",
                )

    def send_400_response(self, msg: str) -> None:
        self._send_error(
            400,
            "bad_request",
            f"{msg.rstrip('.')}: not parseable as HTTP/1.1 (or a request line over 64 KiB)",
        )

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._send_error(
                408,
                "request_timeout",
                f"the request line and headers did not arrive within {self.head_timeout_s:g} s",
            )

    def _send_error(self, status: int, kind: str, message: str) -> None:
        self._disarm()
        body = json.dumps(
            {"error": {"type": kind, "message": message}}, separators=(",", ":")
        ).encode()
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


def protocol_for(limits: Limits) -> type[JsonErrorsProtocol]:
    """``JsonErrorsProtocol`` with ``limits``' head size and time."""
    return type(
        "JsonErrorsProtocol",
        (JsonErrorsProtocol,),
        {"head_limit": limits.max_head_bytes, "head_timeout_s": limits.head_timeout_s},
    )
