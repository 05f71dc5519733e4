"""Lucene adapter for the read path: BM25 and HNSW searches; only plain values leave it.

Every per-request call goes through static methods of ``io.lucenehybrid.Search`` (see
``indexing/java``): pyjnius binds instance methods through a descriptor shared by all threads,
so concurrent instance calls on different objects race; static calls do not.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.indexing import jvm
from lucene_hybrid.indexing.errors import ManifestError

from .types import Scored


class _Java:
    """Java classes, resolved once per process after the JVM is up."""

    _lock = threading.Lock()
    _loaded = False
    Search: Any = None
    Analyzer: Any = None

    @classmethod
    def load(cls) -> type[_Java]:
        with cls._lock:
            if not cls._loaded:
                cls.Search = jvm.jclass("io.lucenehybrid.Search")
                cls.Analyzer = jvm.jclass("io.anserini.analysis.DefaultEnglishAnalyzer")
                cls._loaded = True
        return cls


def _open_reader(path: Path) -> Any:
    java = _Java.load()
    if not path.is_dir():
        raise ManifestError(f"{path} is missing: the index is incomplete; rebuild it")
    try:
        return java.Search.open(str(path))
    except Exception as exc:  # JavaException: no segments file, corrupt index, ...
        raise ManifestError(f"cannot open the Lucene index at {path}: {exc}") from exc


def _parse(lines: str) -> list[Scored]:
    out = []
    for line in lines.splitlines():
        docid, _, score = line.rpartition("\t")
        out.append(Scored(docid, float(score)))
    return out


class Bm25Searcher:
    """BM25 over the ``contents`` field, analyzed as Anserini analyzes it at index time."""

    def __init__(self, path: Path, field: str = "contents"):
        self._java = _Java.load()
        self.path = path
        self.field = field
        self._reader = _open_reader(path)
        self._analyzer = self._java.Analyzer.newDefaultInstance()

    @property
    def num_docs(self) -> int:
        return int(self._java.Search.numDocs(self._reader))

    def search(self, query: str, k: int, k1: float, b: float) -> list[Scored]:
        """Top ``k`` documents for a bag-of-words query (no query syntax: text is text)."""
        return _parse(
            self._java.Search.bm25(self._reader, self._analyzer, self.field, query, k, k1, b)
        )

    def fetch(self, docids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata of the given documents (missing ids are left out)."""
        if not docids:
            return {}
        raws = self._java.Search.raw(self._reader, list(docids))
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for docid, raw in zip(docids, raws, strict=True):
            if raw is not None:
                record = json.loads(raw)
                out[docid] = (record.get("contents", ""), record.get("metadata") or {})
        return out

    def close(self) -> None:
        self._java.Search.close(self._reader)


class DenseSearcher:
    """KNN over Lucene's HNSW graph; ``ef_search`` is the candidate list size per request."""

    def __init__(self, path: Path, dim: int, field: str = "vector"):
        self._java = _Java.load()
        self.path = path
        self.dim = dim
        self.field = field
        self._reader = _open_reader(path)

    @property
    def num_docs(self) -> int:
        return int(self._java.Search.numDocs(self._reader))

    def search(self, vector: Sequence[float] | np.ndarray, k: int, ef_search: int) -> list[Scored]:
        """Top ``k`` documents by dot product (Lucene's score: (1 + dot) / 2)."""
        data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        return _parse(self._java.Search.knn(self._reader, self.field, data, k, ef_search))

    def close(self) -> None:
        self._java.Search.close(self._reader)
