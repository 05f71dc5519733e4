"""The read library: Lucene searchers, exact dense search, filters, fusion, the hybrid searcher."""

from __future__ import annotations

from lucene_hybrid.search.filters import Filter, filter_json, parse_filter
from lucene_hybrid.search.fusion import RRF_K, linear, normalize, rrf
from lucene_hybrid.search.hybrid import HybridSearcher, open_index
from lucene_hybrid.search.lucene_search import Bm25Searcher, DenseSearcher, open_readonly
from lucene_hybrid.search.types import (
    DEFAULT_ALPHA,
    DEFAULT_FUSION,
    DEFAULT_NORMALIZATION,
    Hit,
    Ranked,
    Scored,
    SearchParamError,
    SearchParams,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_FUSION",
    "DEFAULT_NORMALIZATION",
    "RRF_K",
    "Bm25Searcher",
    "DenseSearcher",
    "Filter",
    "Hit",
    "HybridSearcher",
    "Ranked",
    "Scored",
    "SearchParamError",
    "SearchParams",
    "filter_json",
    "linear",
    "normalize",
    "open_index",
    "open_readonly",
    "parse_filter",
    "rrf",
]
