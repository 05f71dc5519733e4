"""Errors that exist only at the HTTP edge: limits and authentication."""

from __future__ import annotations

from lucene_hybrid.core.errors import LuceneHybridError


class LimitExceeded(LuceneHybridError):
    """A request is over a configured limit (body size, batch size, k, query length...)."""

    def __init__(self, message: str, status: int = 413, kind: str = "limit_exceeded"):
        super().__init__(message)
        self.status = status
        self.kind = kind


class Unauthorized(LuceneHybridError):
    """No API key (401) or a wrong one (403)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


class InvalidUnicode(LuceneHybridError):
    """A JSON string holds a lone UTF-16 surrogate: valid JSON, but not text (422)."""
