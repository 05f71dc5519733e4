"""What every room may use: domain errors, the JVM bootstrap, the index manifest, text helpers.

The lowest room: it imports no other part of lucene_hybrid.
"""

from __future__ import annotations

from lucene_hybrid.core.encoder_spec import DEFAULT_MODEL, EncoderSpec
from lucene_hybrid.core.errors import (
    CorpusError,
    EncoderError,
    EncoderUnavailable,
    IndexBuildError,
    JvmError,
    LuceneHybridError,
    ManifestError,
    PartUnavailable,
)
from lucene_hybrid.core.manifest import (
    BM25_DIR,
    HNSW_DIR,
    MANIFEST,
    QUANTIZATIONS,
    Bm25Settings,
    HnswSettings,
    Manifest,
    read_manifest,
    write_manifest,
)
from lucene_hybrid.core.resources import config_path
from lucene_hybrid.core.sharding import CLUSTER_FILE, SHARD_DIR, by_shard, shard_of
from lucene_hybrid.core.text import lone_surrogate, open_text

__all__ = [
    "CLUSTER_FILE",
    "SHARD_DIR",
    "by_shard",
    "shard_of",
    "QUANTIZATIONS",
    "BM25_DIR",
    "DEFAULT_MODEL",
    "HNSW_DIR",
    "MANIFEST",
    "Bm25Settings",
    "CorpusError",
    "EncoderError",
    "EncoderSpec",
    "EncoderUnavailable",
    "HnswSettings",
    "IndexBuildError",
    "JvmError",
    "LuceneHybridError",
    "Manifest",
    "ManifestError",
    "PartUnavailable",
    "config_path",
    "lone_surrogate",
    "open_text",
    "read_manifest",
    "write_manifest",
]
