"""Rank fusion as pure functions: reciprocal rank fusion and normalized linear combination.

Inputs are ranked lists of :class:`Scored` (best first), or :class:`Ranked` columns, which the
search path passes (no object per candidate); they are never mutated. A document
missing from a list is *absent* from it: it gets no RRF term from that list, and in linear
fusion it takes that list's floor (0 for min-max; the lowest z-score for z-score) rather than an
invented raw score of zero (for z-score, zero would be the list's mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import mul

from lucene_hybrid.search.types import Normalization, Ranked, Scored

RRF_K = 60.0  # Cormack, Clarke & Buettcher (SIGIR 2009)


@dataclass(frozen=True)
class Fused:
    """A fused hit: its fused score and, per source list, its (1-based rank, raw score).

    ``parts`` holds, per list, the value that list's weight multiplied: the normalized score (or
    the list's floor, for a document absent from it) in linear fusion, 1 / (k + rank) in RRF
    (absent lists contribute nothing and have no part).
    """

    docid: str
    score: float
    sources: Mapping[str, tuple[int, float]]
    parts: Mapping[str, float] = field(default_factory=dict)


def _columns(hits: Sequence[Scored]) -> tuple[Sequence[str], Sequence[float]]:
    """One list's docids and scores, in rank order."""
    if isinstance(hits, Ranked):
        return hits.ids, hits.scores
    return [h.docid for h in hits], [h.score for h in hits]


def _first_ranks(ids: Sequence[str]) -> dict[str, int]:
    """docid -> its first (best) 1-based rank in one list."""
    # built from the last rank back, so a repeated docid's first rank is written last and stays
    return dict(zip(reversed(ids), range(len(ids), 0, -1), strict=True))


def _top(
    fused: dict[str, float],
    ranks: Mapping[str, dict[str, int]],
    columns: Mapping[str, tuple[Sequence[str], Sequence[float]]],
    part: Callable[[str, str], float | None],
    limit: int | None,
) -> list[Fused]:
    """Order by fused score, then the better best rank, then docid (deterministic results).

    Only the hits returned become objects with their sources and parts: a search fuses ~200
    candidates to return 10, and building per-candidate dicts was most of fusion's cost.
    """
    if limit is not None and limit <= 0:
        return []
    # Only the documents that can make the top ``limit`` need the full sort key: those scoring at
    # least the limit-th best score (ties at the cut included). Sorting the floats is done in C.
    pool: Sequence[str] = list(fused)
    if limit is not None and len(pool) > limit:
        cut = sorted(fused.values(), reverse=True)[limit - 1]
        pool = [docid for docid, score in fused.items() if score >= cut]
    firsts = list(ranks.values())
    best = {d: min(f[d] for f in firsts if d in f) for d in pool}

    def key(docid: str) -> tuple[float, int, str]:
        return (-fused[docid], best[docid], docid)

    top = sorted(pool, key=key)[:limit]
    out = []
    for docid in top:
        sources: dict[str, tuple[int, float]] = {}
        parts: dict[str, float] = {}
        for name, first in ranks.items():
            at = first.get(docid)
            if at is not None:
                sources[name] = (at, columns[name][1][at - 1])
            value = part(name, docid)
            if value is not None:
                parts[name] = value
        out.append(Fused(docid, fused[docid], sources, parts))
    return out


def rrf(
    lists: Mapping[str, Sequence[Scored]],
    *,
    k: float = RRF_K,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Fused]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)).

    Args:
        lists: Named ranked lists, best first. A docid repeated within one list counts once,
            at its first (best) rank.
        k: The RRF constant (60 by default).
        weights: Per-list weight; missing names weigh 1.0.
        limit: Return only the best ``limit`` (None: all).

    Returns:
        The documents of all lists, best fused score first.
    """
    weights = weights or {}
    columns = {name: _columns(hits) for name, hits in lists.items()}
    ranks = {name: _first_ranks(ids) for name, (ids, _) in columns.items()}
    fused: dict[str, float] = {}
    for name, first in ranks.items():
        w, get = weights.get(name, 1.0), fused.get
        # 0 + w1*p1 + w2*p2 ..., the order and arithmetic ``explain`` shows
        fused.update({docid: get(docid, 0.0) + w * (1.0 / (k + r)) for docid, r in first.items()})

    def part(name: str, docid: str) -> float | None:
        rank = ranks[name].get(docid)
        return None if rank is None else 1.0 / (k + rank)

    return _top(fused, ranks, columns, part, limit)


# Half the BM25 rounding step: neighbours closer than this were told apart by the tie adjuster.
_TIE_GAP = 5e-5


def untie_bm25(hits: Sequence[Scored]) -> Ranked:
    """A BM25 list (best first) with the tie adjuster's steps taken back out, for linear fusion.

    Pyserini's ranking (``Search.adjustTies``) rounds BM25 scores to 4 decimals and tells each
    run of equal ones apart by 1e-6 a place. That is an order, not evidence: normalized, a list
    whose candidates all tie would spread over [0, 1] (min-max) or +-1.7 (z-score) in id order
    alone and outvote the other list. A score within half a rounding step of the one above it
    takes that one's score again; the order (and so RRF) is unchanged.
    """
    ids, scores = _columns(hits)
    out = list(scores)
    for i in range(1, len(out)):
        if scores[i - 1] - scores[i] < _TIE_GAP:
            out[i] = out[i - 1]
    return Ranked(list(ids), out)


def normalize(scores: Sequence[float], method: Normalization = "minmax") -> list[float]:
    """Normalize one list's scores: min-max to [0, 1], or z-score (mean 0, std 1).

    A list whose scores are all equal normalizes to all 1.0 (min-max) or all 0.0 (z-score).
    """
    if not scores:
        return []
    if method == "minmax":
        lo, hi = min(scores), max(scores)
        if hi == lo:
            return [1.0] * len(scores)
        return [(s - lo) / (hi - lo) for s in scores]
    if method == "zscore":
        mean = sum(scores) / len(scores)
        deviations = [s - mean for s in scores]
        std = math.sqrt(sum(map(mul, deviations, deviations)) / len(scores))
        if std == 0:
            return [0.0] * len(scores)
        return [d / std for d in deviations]
    raise ValueError(f"unknown normalization {method!r}")


def _floor(values: Sequence[float], normalization: Normalization) -> float:
    """What an absent document scores in one list: the lowest a present one can get.

    Min-max: 0. Z-score: the lowest z present; when every present score is equal (a single
    hit, say: all z are 0), one unit below, so being retrieved still counts for something.
    """
    if normalization == "minmax" or not values:
        return 0.0
    low = min(values)
    return low - 1.0 if low == max(values) else low


def linear(
    lists: Mapping[str, Sequence[Scored]],
    weights: Mapping[str, float],
    *,
    normalization: Normalization = "minmax",
    limit: int | None = None,
) -> list[Fused]:
    """Convex combination of per-list normalized scores: score(d) = sum_i w_i * norm_i(d).

    For a BM25/dense pair with weight ``alpha`` on dense, pass
    ``{"bm25": 1 - alpha, "dense": alpha}``. A document absent from a list takes that list's
    floor: 0 for min-max, the lowest z-score present for z-score (-1 when all are equal).
    ``limit`` returns only the best ``limit`` (None: all).

    Returns:
        The documents of all lists, best fused score first.
    """
    columns = {name: _columns(hits) for name, hits in lists.items()}
    ranks = {name: _first_ranks(ids) for name, (ids, _) in columns.items()}
    normalized: dict[str, dict[str, float]] = {}
    floors: dict[str, float] = {}
    for name, (ids, scores) in columns.items():
        first = ranks[name]
        values = normalize(scores, normalization)
        if len(first) < len(ids):  # a docid repeated: it counts once, at its first rank
            values = [values[rank - 1] for rank in first.values()]
            ids = list(first)
        normalized[name] = dict(zip(ids, values, strict=True))
        floors[name] = _floor(values, normalization)
    # Every document of any list; then each list's term added in turn (0 + w1*n1 + w2*n2 ...,
    # the order and arithmetic ``explain`` shows).
    docids = list(dict.fromkeys(chain.from_iterable(ranks.values())))
    totals = [0.0] * len(docids)
    for n in lists:
        w, terms = weights.get(n, 0.0), map(normalized[n].get, docids, repeat(floors[n]))
        totals = [total + w * term for total, term in zip(totals, terms, strict=True)]
    fused = dict(zip(docids, totals, strict=True))

    def part(name: str, docid: str) -> float:
        return normalized[name].get(docid, floors[name])

    return _top(fused, ranks, columns, part, limit)


def explain(
    hit: Fused,
    weights: Mapping[str, float],
    method: str,
    *,
    rrf_k: float = RRF_K,
    normalization: Normalization | None = None,
) -> dict[str, object]:
    """How ``hit``'s fused score was computed: per list its rank, raw score, the value its
    weight multiplied (normalized score, floor, or 1 / (k + rank)), and the arithmetic."""
    terms, lists = [], {}
    for name, weight in weights.items():
        rank, raw = hit.sources.get(name, (None, None))
        part = hit.parts.get(name)
        entry: dict[str, object] = {"rank": rank, "raw_score": raw, "weight": weight}
        if method == "linear":
            entry["normalized"] = part
            entry["absent"] = rank is None  # scored at the list's floor
            terms.append(f"{weight:.4g} × {part:.4f}")
        elif part is not None:
            entry["rrf_term"] = part
            terms.append(f"{weight:.4g} / ({rrf_k:g} + {rank})")
        lists[name] = entry
    formula = " + ".join(terms) + f" = {hit.score:.6f}"
    out: dict[str, object] = {"fusion": method, "lists": lists, "formula": formula}
    if method == "linear":
        out["normalization"] = normalization
    else:
        out["rrf_k"] = rrf_k
    return out
