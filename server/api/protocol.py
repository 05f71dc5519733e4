"""uvicorn's HTTP protocol (httptools) with the API's JSON errors below the app, bounds on a
request's head (its size and the time it takes to arrive) and a cap on open connections.

A request that is not HTTP/1.1, or whose request line passes httptools' 64 KiB, never reaches
the app: uvicorn answers it itself, in plain text. Here that answer is the API's JSON error.
httptools also puts no limit on the headers (a 20 MB header was accepted and held), and uvicorn
no time limit on them (a client sending one header byte a minute held its connection for good):
a head over ``max_head_bytes`` gets a 431, one not complete within ``head_timeout_s`` a 408, and
the connection closes.

Each connection holds a file descriptor, and Lucene needs descriptors to write: 1,170 idle
connections against a limit of 1,200 files made every write fail (rolled back, 507) and reset
every new client's connection, with nothing in the log. So a connection opened while
``max_connections`` others are open is answered a JSON 503 with ``Retry-After`` and closed, as
soon as its head arrives or after one second. Those within the cap are served as before: a
flood does not refuse the clients already connected (uvicorn's ``limit_concurrency`` refuses
every request while over, in plain text). ``connection_cap`` keeps half the file limit for
Lucene.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as _Cycle

from lucene_hybrid.server.files import connection_share, file_limit
from lucene_hybrid.server.settings import Limits

log = logging.getLogger(__name__)

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
OVER_CAP_HEAD_S = 1.0  # a connection opened past max_connections: time to send its head


class ConnectionStats:
    """What the protocol saw, for ``/metrics``: connections open now, refused since start."""

    def __init__(self) -> None:
        self.open = 0
        self.refused = 0


class JsonErrorsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` answering what it cannot parse as the app answers bad input."""

    head_limit = Limits().max_head_bytes  # bytes, beyond the chunk that began the head
    head_timeout_s = Limits().head_timeout_s
    max_connections = Limits().max_connections
    stats = ConnectionStats()

    _in_head = True  # until the current request's headers are complete
    _began = False  # a request began in the chunk being parsed
    _head_bytes = 0  # bytes received for the current head after the chunk that began it
    _head_timer: asyncio.TimerHandle | None = None
    _over = False  # opened while max_connections others were open: answered 503, closed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.stats.open = len(self.connections)
        self._over = self.stats.open > self.max_connections  # this one included
        self._arm(OVER_CAP_HEAD_S if self._over else self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        self.stats.open = len(self.connections)

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

    def _start_asgi_task(self, cycle: _Cycle, app: ASGI3Application) -> None:
        if self._over:  # answered here, as the other errors below the app: no app task
            self._refuse("a request was refused")
        else:
            super()._start_asgi_task(cycle, app)

    def _refuse(self, what: str) -> None:
        """Answer a connection opened past ``max_connections`` with a 503, and count it."""
        log.warning("over %d open connections: %s", self.max_connections, what)
        self.stats.refused += 1
        self._send_error(
            503,
            "too_many_connections",
            f"the server has over {self.max_connections} open connections; retry shortly",
        )

    def _arm(self, seconds: float | None = None) -> None:
        self._disarm()
        seconds = self.head_timeout_s if seconds is None else seconds
        self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._over and self._in_head and not self.transport.is_closing():
            self._refuse("an idle one was closed")
        elif self._in_head and not self.transport.is_closing():
            self._send_error(
                408,
                "request_timeout",
                f"the request line and headers did not arrive within {self.head_timeout_s:g} s",
            )

    def _send_error(self, status: int, kind: str, message: str) -> None:
        self._disarm()
        body = _error_body(kind, message)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"retry-after: 1\r\n" if status == 503 else b"",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _error_body(kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}, separators=(",", ":")).encode()


def protocol_for(
    limits: Limits, max_connections: int, stats: ConnectionStats
) -> type[JsonErrorsProtocol]:
    """``JsonErrorsProtocol`` with ``limits``' head size and time, a connection cap, and
    ``stats`` to count into."""
    return type(
        "JsonErrorsProtocol",
        (JsonErrorsProtocol,),
        {
            "head_limit": limits.max_head_bytes,
            "head_timeout_s": limits.head_timeout_s,
            "max_connections": max_connections,
            "stats": stats,
        },
    )


def connection_cap(requested: int) -> int:
    """``requested``, or half the process's file limit if that is lower (logged): collections and
    Lucene's writes keep the other half. The soft limit is first raised to the hard one, as the
    JVM would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cap = connection_share(requested)
    if cap < requested:
        log.warning(
            "max_connections %d lowered to %d: the process may open %d files, and collections "
            "and Lucene's writes need the other half",
            requested,
            cap,
            file_limit(),
        )
    return cap
