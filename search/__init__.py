"""The read library: Lucene searchers, exact dense search, filters, fusion, the hybrid searcher."""

from __future__ import annotations

from lucene_hybrid.search.filters import Filter, filter_json, parse_filter
from lucene_hybrid.search.fusion import RRF_K, linear, normalize, rrf
from lucene_hybrid.search.hybrid import (
    HybridSearcher,
    QueryEmbeddings,
    fuse,
    open_index,
    to_hits,
)
from lucene_hybrid.search.lucene_search import Bm25Searcher, DenseSearcher, open_readonly
from lucene_hybrid.search.merge import TermStats, adjust_ties, merge_ranked
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
    "QueryEmbeddings",
    "Ranked",
    "Scored",
    "SearchParamError",
    "SearchParams",
    "TermStats",
    "adjust_ties",
    "filter_json",
    "fuse",
    "linear",
    "merge_ranked",
    "normalize",
    "open_index",
    "open_readonly",
    "parse_filter",
    "rrf",
    "to_hits",
]
