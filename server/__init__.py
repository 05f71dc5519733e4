"""The REST server: the FastAPI app, live collections (write-ahead log, registry), settings."""

from __future__ import annotations

from lucene_hybrid.server.api.app import DEMO_CORPUS, create_app
from lucene_hybrid.server.collection import Collection, DocIn, DocOut
from lucene_hybrid.server.registry import COLLECTIONS_DIR, Registry
from lucene_hybrid.server.run import serve
from lucene_hybrid.server.settings import ServerSettings, load_settings

__all__ = [
    "COLLECTIONS_DIR",
    "DEMO_CORPUS",
    "Collection",
    "DocIn",
    "DocOut",
    "Registry",
    "ServerSettings",
    "create_app",
    "load_settings",
    "serve",
]
