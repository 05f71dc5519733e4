"""The batch write path: corpus readers, encoders, index builds, Lucene writers, reindex."""

from __future__ import annotations

from lucene_hybrid.indexing.build import BuildOptions, BuildReport, build_index
from lucene_hybrid.indexing.corpus import FORMATS, Document, JsonlFields, read_corpus
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec, load_encoder
from lucene_hybrid.indexing.lucene_store import LuceneStore
from lucene_hybrid.indexing.reindex import iter_documents, reindex

__all__ = [
    "FORMATS",
    "BuildOptions",
    "BuildReport",
    "Document",
    "Encoder",
    "EncoderSpec",
    "JsonlFields",
    "LuceneStore",
    "build_index",
    "iter_documents",
    "load_encoder",
    "read_corpus",
    "reindex",
]
