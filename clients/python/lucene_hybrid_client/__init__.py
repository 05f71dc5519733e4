"""Client for the lucene-hybrid search server (BM25 + HNSW in one Lucene engine)."""

from .client import AsyncClient, Client
from .errors import (
    Conflict,
    ConnectionFailed,
    InsufficientStorage,
    InvalidRequest,
    LuceneHybridError,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
)
from .models import CollectionInfo, Document, Hit, SearchRequest, SearchResult, ShardInfo

__all__ = [
    "AsyncClient",
    "Client",
    "CollectionInfo",
    "Conflict",
    "ConnectionFailed",
    "Document",
    "Hit",
    "InsufficientStorage",
    "InvalidRequest",
    "LuceneHybridError",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "SearchRequest",
    "SearchResult",
    "ServerError",
    "ShardInfo",
    "Unauthorized",
]
