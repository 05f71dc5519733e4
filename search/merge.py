"""What one index would answer, put together from the answers of a collection's shards.

A sharded search equals the search of one index holding every shard's documents when:
- BM25 scores with the collection's statistics, not each shard's own (:class:`TermStats`,
  added up over the shards before the shards search: Elasticsearch's dfs_query_then_fetch);
- each retriever's per-shard lists are merged into one list of the best ``depth``, ties in id
  order as one index orders them (:func:`merge_ranked`);
- BM25's tie adjustment (4-decimal rounding, then 1e-6 apart in order) runs once, on the
  merged list (:func:`adjust_ties`), as it runs once on one index's list.

Pure functions: no I/O, inputs never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lucene_hybrid.search.types import Ranked


@dataclass(frozen=True)
class TermStats:
    """One index's (or, summed, a collection's) statistics of the BM25 field and of a query's
    analyzed terms: what BM25's idf and average document length are computed from."""

    max_doc: int = 0
    doc_count: int = 0  # documents with the field
    sum_total_term_freq: int = 0  # tokens in the field, over every document
    sum_doc_freq: int = 0
    terms: dict[str, tuple[int, int]] = field(default_factory=dict)  # term: (df, total tf)

    @classmethod
    def parse(cls, text: str) -> TermStats:
        """Read ``io.lucenehybrid.Stats.terms``'s text: the field's four figures on the first
        line, then "docFreq totalTermFreq term" a line."""
        first, *rest = text.split("\n")
        max_doc, doc_count, sum_ttf, sum_df = (int(v) for v in first.split(" "))
        terms = {}
        for line in rest:
            df, ttf, term = line.split(" ", 2)
            terms[term] = (int(df), int(ttf))
        return cls(max_doc, doc_count, sum_ttf, sum_df, terms)

    def format(self) -> str:
        """The text ``io.lucenehybrid.Stats.bm25`` reads (the inverse of :meth:`parse`)."""
        lines = [f"{self.max_doc} {self.doc_count} {self.sum_total_term_freq} {self.sum_doc_freq}"]
        lines += [f"{df} {ttf} {term}" for term, (df, ttf) in self.terms.items()]
        return "\n".join(lines)

    @classmethod
    def total(cls, parts: Iterable[TermStats]) -> TermStats:
        """The statistics of a collection: its shards' added up, term by term."""
        terms: dict[str, tuple[int, int]] = {}
        max_doc = doc_count = sum_ttf = sum_df = 0
        for p in parts:
            max_doc += p.max_doc
            doc_count += p.doc_count
            sum_ttf += p.sum_total_term_freq
            sum_df += p.sum_doc_freq
            for term, (df, ttf) in p.terms.items():
                was = terms.get(term, (0, 0))
                terms[term] = (was[0] + df, was[1] + ttf)
        return cls(max_doc, doc_count, sum_ttf, sum_df, terms)


@dataclass(frozen=True)
class ShardAnswer:
    """What one shard answers a router: the version of its view (a new one after any write it
    made visible), and either its candidates (with the stored records of the best of them,
    saving the router a round trip for the usual page) or, when it was asked for statistics or
    the statistics it was sent were counted at another version, its :class:`TermStats`."""

    version: str
    lists: dict[str, Ranked] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stats: TermStats | None = None
    docs: dict[str, str] = field(default_factory=dict)  # stored records, as read

    @property
    def stale(self) -> bool:
        """The statistics sent were not this shard's current ones: nothing was searched."""
        return self.stats is not None and not self.lists


def leading_ids(lists: Iterable[Ranked], ranks: int) -> list[str]:
    """The ids in the first ``ranks`` places of the lists, rank by rank across them, each once:
    the documents a fused page most likely shows, most likely first."""
    columns = [part.ids[:ranks] for part in lists]
    out: dict[str, None] = {}
    for rank in range(max((len(c) for c in columns), default=0)):
        for column in columns:
            if rank < len(column):
                out.setdefault(column[rank])
    return list(out)


def merge_ranked(lists: Sequence[Ranked], depth: int) -> Ranked:
    """The best ``depth`` of several lists (each best first), by score, equal scores in id
    order (code point order, which is how one index breaks them)."""
    if len(lists) == 1:
        return lists[0][:depth]
    # one sort of every candidate (a few hundred): cheaper in Python than a heap of the best
    best = sorted(
        (-score, docid)
        for part in lists
        for docid, score in zip(part.ids, part.scores, strict=True)
    )[:depth]
    return Ranked([docid for _, docid in best], [-neg for neg, _ in best])


def adjust_ties(hits: Ranked) -> Ranked:
    """Pyserini's tie adjustment of a BM25 list, as ``Search.adjustTies`` makes it in Java, in
    the same float32 arithmetic: each score rounded to 4 decimals, then a run of equal ones told
    apart by 1e-6 a place, so that trec_eval keeps the order."""
    f32 = np.float32
    step, gap = f32(1e-6), f32(1e-4)
    # the rounding of every score at once, in float64 as Java's Math.round does it, then float32
    rounded = (
        np.floor(np.asarray(hits.scores, dtype=np.float32).astype(np.float64) * 10000.0 + 0.5)
        / 10000.0
    ).astype(np.float32)
    if bool(np.all(rounded[:-1] - rounded[1:] > gap)):  # true of fewer than two scores too
        scores = rounded  # no run of equal scores: nothing to tell apart
    else:
        scores = np.empty_like(rounded)
        dup = 0
        for i, score in enumerate(rounded):
            if i == 0 or f32(scores[i - 1] - score) > gap:
                dup = 0
            else:
                dup += 1
                score = f32(score - f32(step * f32(dup)))
            scores[i] = score
    # each float32 in its shortest form, as Java prints it
    return Ranked(list(hits.ids), [float(text) for text in map(str, scores)])
