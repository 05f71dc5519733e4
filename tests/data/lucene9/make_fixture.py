"""Writes the Lucene 9 fixture: a batch-built index and a live collection made by this release.

Run once, on the Lucene 9.9 stack (pyserini 1.6.0), from the repository root:
    .venv/bin/python tests/data/lucene9/make_fixture.py
It reads corpus.jsonl beside it (4-dimensional vectors given, so no model is needed) and writes
built/ (`lucene-hybrid index`: Anserini's indexers) and collection/ (the server's writer: the
first eight documents upserted, then ``gone-1`` and ``gone-2`` deleted). The tests open both
with whatever Lucene the project runs on now.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lucene_hybrid.indexing import BuildOptions, EncoderSpec, JsonlFields, build_index
from lucene_hybrid.server import Collection, DocIn

HERE = Path(__file__).resolve().parent
SPEC = EncoderSpec(kind="precomputed", model="precomputed", dim=4)


def main() -> None:
    corpus = HERE / "corpus.jsonl"
    for folder in ("built", "collection"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    fields = JsonlFields(id="id", text="text", vector="vector")
    build_index(
        BuildOptions(
            corpus=corpus,
            index=HERE / "built",
            fmt="jsonl",
            fields=fields,
            encoder=SPEC,
            progress=False,
        ),
    )
    docs = [json.loads(line) for line in corpus.read_text().splitlines()]
    collection = Collection.create("fixture", HERE / "collection", encoder_spec=SPEC)
    collection.upsert(
        [
            DocIn(d["id"], d["text"], {"topic": d["topic"], "year": d["year"]}, d["vector"])
            for d in docs[:8]
        ]
    )
    collection.delete(["gone-1", "gone-2"])
    collection.close()


if __name__ == "__main__":
    main()
