"""TREC run files: ``qid Q0 docid rank score tag``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from .types import Hit


def write_run(out: IO[str], results: Mapping[str, Sequence[Hit]], tag: str) -> None:
    """Write hits per query in TREC format; ranks are 1-based, scores as searched."""
    for qid, hits in results.items():
        for hit in hits:
            out.write(f"{qid} Q0 {hit.docid} {hit.rank} {hit.score:.6f} {tag}\n")


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """Read a TREC run file into ``{qid: {docid: score}}`` (the shape trec_eval tools take)."""
    run: dict[str, dict[str, float]] = {}
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 6:
                run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run
