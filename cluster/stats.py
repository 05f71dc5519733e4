"""The router's copy of its shards' BM25 statistics, term by term, each as of a shard version.

Scoring a sharded BM25 search as one index would takes the collection's statistics of the
query's terms: asking every shard for them first costs a round trip per search. The router keeps
what the shards told it instead, per shard and per term, with the version of the shard's view
they were counted at, and sends the sums with the search together with the versions it assumed.
A shard whose view has moved on since (a write became visible, it was restarted) searches
nothing and answers its current statistics; the router learns them and asks again. A search
therefore always scores with statistics of the very view each shard searches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from lucene_hybrid.search import TermStats

MAX_TERMS = 200_000  # per shard; past it a shard's terms are forgotten and learned again


@dataclass
class _Known:
    """What one shard said, at one version of its view."""

    version: str
    stats: TermStats  # its field figures (its terms are in ``terms``)
    terms: dict[str, tuple[int, int]] = field(default_factory=dict)


class StatsCache:
    """Each shard's statistics of the terms seen so far, as of the version it last reported.
    Thread-safe: a router's searches run in several threads."""

    def __init__(self, shards: int, max_terms: int = MAX_TERMS):
        self._known: list[_Known | None] = [None] * shards
        self._max_terms = max_terms
        self._lock = threading.Lock()

    def learn(self, shard: int, version: str, stats: TermStats) -> None:
        """Keep what ``shard`` counted at ``version`` (a new version forgets the old terms)."""
        with self._lock:
            known = self._known[shard]
            if known is None or known.version != version or len(known.terms) > self._max_terms:
                known = self._known[shard] = _Known(version, replace(stats, terms={}))
            known.terms.update(stats.terms)

    def forget(self) -> None:
        """Forget everything (the shards were reopened)."""
        with self._lock:
            self._known = [None] * len(self._known)

    def total(
        self, terms: Sequence[str], shards: Sequence[int]
    ) -> tuple[TermStats, list[str]] | None:
        """The statistics of ``terms`` summed over ``shards``, and the version each shard's
        part was counted at (in the order of ``shards``); None when some shard's statistics
        of some term are not known."""
        with self._lock:
            parts, versions = [], []
            for s in shards:
                known = self._known[s]
                if known is None or any(t not in known.terms for t in terms):
                    return None
                parts.append(replace(known.stats, terms={t: known.terms[t] for t in terms}))
                versions.append(known.version)
        return TermStats.total(parts), versions
