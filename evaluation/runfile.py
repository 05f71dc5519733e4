"""TREC run files: ``qid Q0 docid rank score tag``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.core.text import open_text
from lucene_hybrid.search.types import Hit


def trec_scores(hits: Sequence[Hit]) -> list[float]:
    """Scores that make trec_eval keep our ranking.

    trec_eval ignores the rank column: it sorts by score and breaks ties by docid, descending.
    Where a score does not fall below the one ranked above it (a tie we broke by best rank or
    docid), it is lowered to the next float below, the smallest change that encodes our order.
    """
    out: list[float] = []
    for hit in hits:
        score = hit.score
        if out and score >= out[-1]:
            score = math.nextafter(out[-1], -math.inf)
        out.append(score)
    return out


def write_run(out: IO[str], results: Mapping[str, Sequence[Hit]], tag: str) -> None:
    """Write hits per query in TREC format, 1-based ranks, scores exact (shortest repr)."""
    for qid, hits in results.items():
        for hit, score in zip(hits, trec_scores(hits), strict=True):
            out.write(f"{qid} Q0 {hit.docid} {hit.rank} {score!r} {tag}\n")


def write_scored_run(out: IO[str], run: Mapping[str, Mapping[str, float]], tag: str) -> None:
    """Write ``{qid: {docid: score}}`` (docids in rank order) in TREC format."""
    write_run(
        out,
        {
            q: [Hit(d, s, r) for r, (d, s) in enumerate(docs.items(), start=1)]
            for q, docs in run.items()
        },
        tag,
    )


def ranked_scores(ranked: Sequence[tuple[str, float]]) -> dict[str, float]:
    """``{docid: score}`` in rank order, scores made trec_eval-faithful by :func:`trec_scores`."""
    hits = [Hit(d, s, r) for r, (d, s) in enumerate(ranked, start=1)]
    return {h.docid: s for h, s in zip(hits, trec_scores(hits), strict=True)}


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """Read a TREC run file into ``{qid: {docid: score}}`` (the shape trec_eval tools take).

    Raises:
        CorpusError: on a missing or empty file, or a line that is not ``qid Q0 docid rank
            score tag`` with a finite score (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such run file")
    run: dict[str, dict[str, float]] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            score = _float(parts[4]) if len(parts) >= 6 else math.nan
            if not math.isfinite(score):
                raise CorpusError(
                    f"{path}:{lineno}: expected 'qid Q0 docid rank score tag' with a finite "
                    f"score, got {line.strip()[:120]!r}"
                )
            run.setdefault(parts[0], {})[parts[2]] = score
    if not run:
        raise CorpusError(f"{path}: no results in this run file")
    return run


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
