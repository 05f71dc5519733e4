"""Lucene adapter for the read path: BM25 and HNSW searches; only plain values leave it.

Every per-request call goes through static methods of ``io.lucenehybrid.Search`` (see
``core/java``): pyjnius binds instance methods through a descriptor shared by all threads,
so concurrent instance calls on different objects race; static calls do not.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import ManifestError
from lucene_hybrid.core.manifest import HnswSettings
from lucene_hybrid.indexing.lucene_store import hit_columns, read_vectors
from lucene_hybrid.search.exact import SIMILARITIES, VectorSnapshot
from lucene_hybrid.search.merge import TermStats
from lucene_hybrid.search.types import Ranked, TextBudget

_JLONG_MAX = 2**63 - 1  # Long.MAX_VALUE: no budget


def open_readonly(path: Path) -> Any:
    """Open one half of an index directory for search only; returns an opaque handle.

    Raises:
        ManifestError: when the folder is missing or is not a readable Lucene index.
    """
    java = jvm.Helpers.load()
    if not path.is_dir():
        raise ManifestError(f"{path} is missing: the index is incomplete; rebuild it")
    try:
        return java.Search.open(str(path))
    except Exception as exc:  # JavaException: no segments file, corrupt index, ...
        raise ManifestError(jvm.open_failure(path, exc)) from exc


def _parse(text: str) -> Ranked:
    return Ranked(*hit_columns(text))


_ANALYZER: list[Any] = []  # the process's query analyzer, made on first use
_ANALYZER_LOCK = threading.Lock()


def analyzed_terms(query: str, field: str = "contents") -> list[str]:
    """The query's terms as BM25 sees them (Anserini's analyzer, as at index time), each once,
    in the order :meth:`Bm25Searcher.term_stats` lists them. Needs no index."""
    java = jvm.Helpers.load()
    with _ANALYZER_LOCK:
        if not _ANALYZER:
            _ANALYZER.append(java.Analyzer.newDefaultInstance())
    text = java.Stats.analyze(_ANALYZER[0], field, query)
    return text.split("\n") if text else []


class _Half:
    """One Lucene index (either half of a collection) opened for search."""

    def __init__(self, handle: Any, field: str):
        self._java = jvm.Helpers.load()
        self.field = field
        self._reader = handle

    @property
    def num_docs(self) -> int:
        return int(self._java.Search.numDocs(self._reader))

    def version(self) -> int:
        """The reader's version; it changes when a refresh makes writes visible."""
        return int(self._java.Search.version(self._reader))

    def close(self) -> None:
        self._java.Search.close(self._reader)


class Bm25Searcher(_Half):
    """BM25 over the ``contents`` field, analyzed as Anserini analyzes it at index time."""

    def __init__(self, handle: Any, field: str = "contents"):
        super().__init__(handle, field)
        self._analyzer = self._java.Analyzer.newDefaultInstance()

    def search(
        self, query: str, k: int, k1: float, b: float, filter_json: str | None = None
    ) -> Ranked:
        """Top ``k`` documents for a bag-of-words query (no query syntax: text is text)."""
        java = self._java
        reader, analyzer, field = self._reader, self._analyzer, self.field
        return _parse(java.Search.bm25(reader, analyzer, field, query, k, k1, b, filter_json))

    def term_stats(self, query: str) -> TermStats:
        """This index's statistics of the field and of the query's analyzed terms, for a router
        to add up over a collection's shards."""
        return TermStats.parse(
            self._java.Stats.terms(self._reader, self._analyzer, self.field, query)
        )

    def search_global(
        self,
        query: str,
        k: int,
        k1: float,
        b: float,
        filter_json: str | None,
        stats: TermStats,
    ) -> Ranked:
        """As :meth:`search`, scored with a whole collection's ``stats`` (the sum of every
        shard's :meth:`term_stats`), and with raw scores: ties are broken where the shards'
        lists are merged (:func:`~lucene_hybrid.search.merge.adjust_ties`)."""
        java = self._java
        reader, analyzer, field = self._reader, self._analyzer, self.field
        text = stats.format()
        return _parse(java.Stats.bm25(reader, analyzer, field, query, k, k1, b, filter_json, text))

    def filter_ids(self, filter_json: str | None, limit: int) -> list[str]:
        """Ids of up to ``limit`` documents matching a metadata filter (None: any), index order."""
        return _parse(self._java.Search.filterIds(self._reader, filter_json, limit)).ids

    def ids_after(self, filter_json: str | None, limit: int, after: str | None) -> list[str]:
        """Up to ``limit`` ids of documents matching a filter (None: any), in id (code point)
        order, from the first id after ``after`` (None: the first)."""
        return _parse(self._java.Search.idsAfter(self._reader, filter_json, limit, after)).ids

    def fetch(
        self, docids: Sequence[str], budget: TextBudget | None = None
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata of the given documents (missing ids are left out).

        Raises:
            ResponseTooLarge: when they do not all fit in ``budget``.
        """
        found, read = self.fetch_prefix(docids, budget)
        if read < len(docids):
            assert budget is not None
            raise budget.exceeded()
        return found

    def fetch_prefix(
        self, docids: Sequence[str], budget: TextBudget | None = None
    ) -> tuple[dict[str, tuple[str, dict[str, Any]]], int]:
        """As :meth:`fetch`, reading ``docids`` in order only while they fit in ``budget``
        (which they spend): the documents found, and how many of ``docids`` were read."""
        if not docids:
            return {}, 0
        most = _JLONG_MAX if budget is None else max(budget.left, 0)
        raws = self._java.Search.raw(self._reader, list(docids), most)
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        chars = 0
        for docid, raw in zip(docids, raws, strict=False):
            if raw is not None:
                chars += len(raw)
                out[docid] = stored_fields(raw)
        if budget is not None:
            budget.spend(chars)
        return out, len(raws)

    def stored(self, docids: Sequence[str], chars: int) -> dict[str, str]:
        """The stored record (JSON: :func:`stored_fields` reads it) of each of ``docids``
        found, read in order while they come to at most ``chars`` characters."""
        if not docids:
            return {}
        raws = self._java.Search.raw(self._reader, list(docids), chars)
        return {d: raw for d, raw in zip(docids, raws, strict=False) if raw is not None}


def stored_fields(raw: str) -> tuple[str, dict[str, Any]]:
    """A document's text and metadata from its stored record."""
    record = json.loads(raw)
    return record.get("contents", ""), record.get("metadata") or {}


class DenseSearcher(_Half):
    """KNN over Lucene's HNSW graph (``ef_search``: candidate list size), or exact."""

    def __init__(self, handle: Any, dim: int, hnsw: HnswSettings | None = None):
        self.hnsw = hnsw or HnswSettings()
        super().__init__(handle, self.hnsw.field)
        self.dim = dim

    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int,
        ef_search: int,
        filter_json: str | None = None,
    ) -> Ranked:
        """Top ``k`` documents by dot product (Lucene's score: (1 + dot) / 2), pre-filtered.
        Over quantized vectors, the graph's best ``k`` x ``oversample`` are rescored with the
        float32 vectors, so the scores returned are exact."""
        data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        java, reader, field = self._java, self._reader, self.field
        rescore = self.hnsw.rescore_depth(k)
        return _parse(java.Search.knn(reader, field, data, k, ef_search, filter_json, rescore))

    def exact_search(
        self, vector: Sequence[float] | np.ndarray, k: int, filter_json: str | None = None
    ) -> Ranked:
        """Top ``k`` by brute force in Lucene (every live vector scored): exact, filterable."""
        data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        java, reader, field = self._java, self._reader, self.field
        return _parse(java.Search.exactKnn(reader, field, data, k, filter_json))

    def snapshot(self) -> VectorSnapshot:
        """Every live document's id and vector, read at one point in time (one crossing)."""
        version, ids, matrix, similarity = read_vectors(self._reader, self.field)
        return VectorSnapshot(
            version=version,
            ids=ids,
            matrix=matrix if len(ids) else np.zeros((0, self.dim), np.float32),
            similarity=SIMILARITIES[similarity] if similarity >= 0 else "DOT_PRODUCT",
        )

    def vector(self, docid: str) -> np.ndarray | None:
        """The stored (normalized) vector of a document, or None when absent."""
        encoded = self._java.Search.vector(self._reader, docid)
        if encoded is None:
            return None
        return np.frombuffer(base64.b64decode(encoded), dtype="<f4").copy()
