"""Plain values that cross the read path: per-request search parameters and hits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import MAX_K1

Mode = Literal["bm25", "dense", "hybrid"]
FusionMethod = Literal["rrf", "linear"]
Normalization = Literal["minmax", "zscore"]
# Dense retrieval: "exact" scores every vector, "hnsw" walks Lucene's graph, "auto" is exact for
# collections small enough that exact is also faster (search/exact.py), HNSW above.
DenseSearch = Literal["auto", "exact", "hnsw"]

MAX_K = 10_000

# The default fusion: linear combination of z-score-normalized scores, 70% dense. Chosen on
# SciFact, NFCorpus and the DL19/DL20 pools as the setting that beats both single retrievers on
# the BEIR sets and never falls below dense on the (dense-favoured) DL pools, where RRF k=60
# fell below dense (docs/evaluation.md, "Choosing the default fusion", has the tables;
# choosing on test queries overstates the margins).
DEFAULT_FUSION: FusionMethod = "linear"
DEFAULT_NORMALIZATION: Normalization = "zscore"
DEFAULT_ALPHA = 0.7


class SearchParamError(LuceneHybridError, ValueError):
    """A search parameter is out of range or inconsistent."""


class ResponseTooLarge(LuceneHybridError):
    """The stored documents an answer would carry are over its character budget."""


class TextBudget:
    """Characters of stored documents (text and metadata, as stored) one response may still
    carry; the searches of a batch share one. Reading stops where it runs out, so an answer too
    large to send is never built in memory."""

    def __init__(self, chars: int) -> None:
        self.limit = chars
        self.left = chars

    def spend(self, chars: int) -> None:
        self.left -= chars

    def exceeded(self) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"the documents asked for come to more than {self.limit:,} characters "
            "(limits.max_response_chars): ask for fewer (a smaller k, fewer ids or searches "
            "per batch), or search with include_text: false"
        )


@dataclass(frozen=True)
class Scored:
    """One retriever's hit: a document id and its score from that retriever."""

    docid: str
    score: float


class Ranked(Sequence[Scored]):
    """One retriever's ranked list (best first) held as two columns, ``ids`` and ``scores``.

    A search reads 100 candidates per retriever to return 10; as columns they cross from Java and
    from numpy without an object per candidate (fusion reads the columns). Indexing or iterating
    still gives :class:`Scored`, for code off the hot path.
    """

    __slots__ = ("ids", "scores")

    def __init__(self, ids: list[str], scores: list[float]):
        if len(ids) != len(scores):
            raise ValueError(f"{len(ids)} ids for {len(scores)} scores")
        self.ids = ids
        self.scores = scores

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Scored: ...

    @overload
    def __getitem__(self, i: slice) -> Ranked: ...

    def __getitem__(self, i: int | slice) -> Scored | Ranked:
        if isinstance(i, slice):
            return Ranked(self.ids[i], self.scores[i])
        return Scored(self.ids[i], self.scores[i])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ranked):
            return self.ids == other.ids and self.scores == other.scores
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable columns, like a list

    def __repr__(self) -> str:
        return f"Ranked({list(zip(self.ids, self.scores, strict=True))!r})"


@dataclass(frozen=True)
class Hit:
    """A ranked result, with the BM25 and dense rank/score behind its fused score.

    ``bm25_rank`` / ``dense_rank`` are 1-based; None means the document was not in that
    retriever's candidate list (absent, not scored zero).
    """

    docid: str
    score: float
    rank: int
    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    text: str | None = None
    metadata: dict[str, Any] | None = None
    explain: dict[str, Any] | None = None


def check_rrf(rrf_k: float, weights: Sequence[float]) -> None:
    """RRF's k and one weight per fused list, as a search and ``fuse`` take them.

    Raises:
        SearchParamError: on a negative or non-finite k, a negative weight, or weights whose
            sum is not finite (an RRF score can reach it: each term is weight / (k + rank)).
    """
    # Comparisons written so that NaN fails them too.
    if not 0 <= rrf_k < math.inf:
        raise SearchParamError(f"rrf_k must be a finite number >= 0, got {rrf_k}")
    if not (all(w >= 0 for w in weights) and sum(weights) < math.inf):
        raise SearchParamError(
            f"weights must be non-negative numbers with a finite sum, got {tuple(weights)}"
        )


@dataclass(frozen=True)
class SearchParams:
    """Everything one search may set; immutable, one value per request.

    Defaults: linear fusion of z-score-normalized scores with alpha=0.7 (alpha=0: BM25 only,
    1: dense only; see DEFAULT_FUSION), candidate depth 100 per retriever, RRF k=60 (Cormack et
    al., 2009) when RRF is asked for, BM25 k1/b from the index manifest (Anserini: 0.9/0.4).
    """

    mode: Mode = "hybrid"
    k: int = 10
    offset: int = 0  # hits offset+1 .. offset+k of the ranking
    depth: int = 100
    fusion: FusionMethod = DEFAULT_FUSION
    rrf_k: float = 60.0
    weights: tuple[float, float] = (1.0, 1.0)  # (bm25, dense) for RRF
    alpha: float = DEFAULT_ALPHA
    normalization: Normalization = DEFAULT_NORMALIZATION
    k1: float | None = None
    b: float | None = None
    ef_search: int | None = None  # HNSW candidate list; setting it makes "auto" use HNSW
    dense_search: DenseSearch = "auto"
    fetch_docs: bool = True
    explain: bool = False  # attach to each hit how its fused score was computed
    filter: str | None = None  # validated filter JSON (see search.filters)
    budget: TextBudget | None = None  # for the hits' stored text (None: unbounded)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("bm25", "dense", "hybrid"):
            raise SearchParamError(f"mode must be bm25, dense or hybrid, not {self.mode!r}")
        if self.fusion not in ("rrf", "linear"):
            raise SearchParamError(f"fusion must be rrf or linear, not {self.fusion!r}")
        if self.normalization not in ("minmax", "zscore"):
            raise SearchParamError(
                f"normalization must be minmax or zscore, not {self.normalization!r}"
            )
        if not 1 <= self.k <= MAX_K:
            raise SearchParamError(f"k must be between 1 and {MAX_K}, got {self.k}")
        if not 0 <= self.offset <= MAX_K - self.k:
            raise SearchParamError(f"offset + k must be at most {MAX_K}, got offset={self.offset}")
        if not 1 <= self.depth <= MAX_K:
            raise SearchParamError(f"depth must be between 1 and {MAX_K}, got {self.depth}")
        if len(self.weights) != 2:
            raise SearchParamError(f"weights must be two numbers (bm25, dense), got {self.weights}")
        check_rrf(self.rrf_k, self.weights)
        if not 0.0 <= self.alpha <= 1.0:
            raise SearchParamError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.k1 is not None and not 0 <= self.k1 <= MAX_K1:
            raise SearchParamError(
                f"k1 must be between 0 and {MAX_K1:.7g} (Lucene takes a 32-bit float), "
                f"got {self.k1}"
            )
        if self.b is not None and not 0.0 <= self.b <= 1.0:
            raise SearchParamError(f"b must be between 0 and 1, got {self.b}")
        if self.dense_search not in ("auto", "exact", "hnsw"):
            raise SearchParamError(
                f"dense_search must be auto, exact or hnsw, not {self.dense_search!r}"
            )
        if self.ef_search is not None and not 1 <= self.ef_search <= MAX_K:
            raise SearchParamError(f"ef_search must be between 1 and {MAX_K}")

    @property
    def top(self) -> int:
        """How many hits the ranking needs: the page (k) and the ones before it (offset)."""
        return self.offset + self.k

    @property
    def candidate_depth(self) -> int:
        """Candidates per retriever: never fewer than the hits asked for, offset included."""
        return max(self.depth, self.top)
