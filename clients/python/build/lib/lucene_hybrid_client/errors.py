"""Exceptions mapped from the server's JSON error bodies ({"error": {"type", "message"}})."""

from __future__ import annotations


class LuceneHybridError(Exception):
    """An error answer from the server (or no answer at all: status 0)."""

    def __init__(self, message: str, *, status: int = 0, type: str = "error"):  # noqa: A002
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.message}" if self.status else self.message


class InvalidRequest(LuceneHybridError):
    """400 / 422: a bad parameter, document or vector (the message says which)."""


class Unauthorized(LuceneHybridError):
    """401 / 403: a missing or wrong API key."""


class NotFound(LuceneHybridError):
    """404: no such collection or document."""


class Conflict(LuceneHybridError):
    """409: the collection exists already, or the index is in use."""


class PayloadTooLarge(LuceneHybridError):
    """413: over a server limit (batch size, body size)."""


class Overloaded(LuceneHybridError):
    """503: the server is busy, out of memory for the request, or the collection unavailable."""


class InsufficientStorage(LuceneHybridError):
    """507: the write could not be made durable; nothing changed."""


class ServerError(LuceneHybridError):
    """Any other 5xx."""


class ConnectionFailed(LuceneHybridError):
    """The server could not be reached."""


_BY_STATUS: dict[int, type[LuceneHybridError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    503: Overloaded,
    507: InsufficientStorage,
}


def error_for(status: int, body: object) -> LuceneHybridError:
    """The exception for an error answer, from its JSON body when it has one."""
    kind, message = "http_error", f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = str(body["error"].get("type", kind))
        message = str(body["error"].get("message", message))
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else InvalidRequest)
    return cls(message, status=status, type=kind)
