"""Hard negatives from BM25, and batches in which no example's negative is another's positive.

A hard negative is a document BM25 ranks high for a query but nobody judged relevant: it looks
right lexically and is wrong, which is what a dense encoder fails on. Judged positives never
become negatives, and neither do near-duplicates of a positive (corpora hold the same abstract
twice under two ids; calling one of them a negative teaches the model noise).
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class MiningOptions:
    """How deep to look and what to keep."""

    depth: int = 100  # BM25 candidates per query
    negatives: int = 10  # hard negatives kept per query (best BM25 ranks first)
    skip_top: int = 0  # ranks skipped at the very top (often unjudged positives)
    near_duplicate: float = 0.9  # word-set Jaccard with a positive at or above this: skipped


def words(text: str) -> frozenset[str]:
    """The lowercased word set of a text (for near-duplicate tests)."""
    return frozenset(_WORD.findall(text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are identical."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def mine_hard_negatives(
    ranked: Mapping[str, Sequence[str]],
    positives: Mapping[str, set[str]],
    texts: Mapping[str, str],
    opts: MiningOptions = MiningOptions(),
) -> dict[str, list[str]]:
    """Pick each query's hard negatives from its BM25 ranking.

    Args:
        ranked: query id -> BM25 ranking (doc ids, best first).
        positives: query id -> doc ids judged relevant (grade > 0).
        texts: doc id -> text, for the near-duplicate test (a doc missing here is kept).
        opts: depth, how many to keep, ranks to skip, near-duplicate threshold.

    Returns:
        query id -> up to ``opts.negatives`` doc ids, in BM25 order; queries without
        positives are left out.
    """
    cache: dict[str, frozenset[str]] = {}

    def ws(docid: str) -> frozenset[str]:
        if docid not in cache:
            cache[docid] = words(texts.get(docid, ""))
        return cache[docid]

    out: dict[str, list[str]] = {}
    for qid, ranking in ranked.items():
        pos = positives.get(qid)
        if not pos:
            continue
        pos_words = [ws(p) for p in pos if p in texts]
        kept: list[str] = []
        for docid in list(ranking)[opts.skip_top : opts.depth]:
            if docid in pos:
                continue
            if docid in texts and any(
                jaccard(ws(docid), pw) >= opts.near_duplicate for pw in pos_words
            ):
                continue
            kept.append(docid)
            if len(kept) >= opts.negatives:
                break
        out[qid] = kept
    return out


def fill_random_negatives(
    negatives: dict[str, list[str]],
    positives: Mapping[str, Collection[str]],
    doc_ids: Sequence[str],
    count: int,
    seed: int,
) -> int:
    """Give each query with no mined negative ``count`` random documents not judged relevant.

    Returns:
        How many random negatives were added.
    """
    rng = random.Random(seed)
    added = 0
    for qid in sorted(positives):
        if negatives.get(qid):
            continue
        pos = positives[qid]
        pool = [d for d in rng.sample(list(doc_ids), min(len(doc_ids), 4 * count)) if d not in pos]
        negatives[qid] = pool[:count]
        added += len(negatives[qid])
    return added


Example = tuple[str, str, str | None]  # (query id, positive doc id, hard negative doc id)


def epoch_examples(
    positives: Mapping[str, Collection[str]],
    negatives: Mapping[str, Sequence[str]],
    *,
    epoch: int,
    per_query: int,
    rng: random.Random,
) -> list[Example]:
    """One epoch's (query, positive, negative) triples: ``per_query`` per query, rotating.

    Epoch e takes a query's positives ``e*per_query ...`` (cyclically) so that successive epochs
    see different positives; each positive gets a random one of the query's hard negatives.
    """
    out: list[Example] = []
    for qid in sorted(positives):
        pos = sorted(positives[qid])
        if not pos:
            continue
        negs = list(negatives.get(qid, ()))
        for i in range(min(per_query, len(pos))):
            p = pos[(epoch * per_query + i) % len(pos)]
            out.append((qid, p, rng.choice(negs) if negs else None))
    rng.shuffle(out)
    return out


def batches(
    examples: Sequence[Example],
    batch_size: int,
    positives: Mapping[str, set[str]],
) -> list[list[Example]]:
    """Group examples so that in-batch negatives are true negatives.

    In MultipleNegativesRankingLoss every other example's documents are negatives of a query.
    A batch therefore never holds a document twice, nor a document judged relevant to another
    query in the same batch. Examples that do not fit are deferred to a later batch; the last
    batch may be smaller, and a batch of one example is dropped (it has no in-batch negative).
    """
    pending = list(examples)
    out: list[list[Example]] = []
    while pending:
        batch: list[Example] = []
        docs: set[str] = set()
        queries: set[str] = set()
        rest: list[Example] = []
        for ex in pending:
            qid, pos, neg = ex
            mine = {pos} if neg is None else {pos, neg}
            clash = (
                len(batch) >= batch_size
                or qid in queries
                or mine & docs
                or any(d in positives.get(q, ()) for q in queries for d in mine)
                or any(d in positives.get(qid, ()) for d in docs)
            )
            if clash:
                rest.append(ex)
            else:
                batch.append(ex)
                docs |= mine
                queries.add(qid)
        if len(batch) > 1:  # the first pending example always fits: the loop ends
            out.append(batch)
        pending = rest
    return out
