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
from lucene_hybrid.search.lucene_search import (
    Bm25Searcher,
    DenseSearcher,
    analyzed_terms,
    open_readonly,
    stored_fields,
)
from lucene_hybrid.search.merge import (
    ShardAnswer,
    TermStats,
    adjust_ties,
    leading_ids,
    merge_ranked,
)
from lucene_hybrid.search.types import (
    DEFAULT_ALPHA,
    DEFAULT_FUSION,
    DEFAULT_NORMALIZATION,
    Hit,
    Ranked,
    Scored,
    SearchParamError,
    SearchParams,
    TextBudget,
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
    "ShardAnswer",
    "TermStats",
    "TextBudget",
    "adjust_ties",
    "analyzed_terms",
    "filter_json",
    "fuse",
    "leading_ids",
    "linear",
    "merge_ranked",
    "normalize",
    "open_index",
    "open_readonly",
    "parse_filter",
    "rrf",
    "stored_fields",
    "to_hits",
]
