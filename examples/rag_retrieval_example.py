#!/usr/bin/env python
"""RAG retrieval through LangChain on lucene-hybrid: index a BEIR dataset with the LangChain
vector store, then retrieve for the test queries dense-only and hybrid, and print nDCG@10.

It uses only the client package (`pip install 'clients/python[langchain]'`) and pytrec_eval, and
talks to a running server, which embeds the text itself (its default all-MiniLM-L6-v2):

    scripts/serve &                                   # or: lucene-hybrid serve
    python examples/rag_retrieval_example.py ../shared/data/beir-scifact

Pass --keep to leave the collection on the server (a second run then skips indexing).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytrec_eval
from langchain_core.documents import Document
from lucene_hybrid_client import NotFound
from lucene_hybrid_client.langchain import LuceneHybridVectorStore


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("dataset", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--api-key", default=None)
    p.add_argument("--collection", default=None, help="default: beir-<folder name>")
    p.add_argument("--split", default="test")
    p.add_argument("--keep", action="store_true", help="keep the collection afterwards")
    args = p.parse_args()

    name = args.collection or f"beir-{args.dataset.name}".replace(".", "-")[:64]
    store = LuceneHybridVectorStore(name, url=args.url, api_key=args.api_key)  # server embeds
    if store.client.get_collection(name).documents == 0:
        t0 = time.perf_counter()
        batch: list[Document] = []
        total = 0
        for row in read_jsonl(args.dataset / "corpus.jsonl"):
            text = f"{row.get('title') or ''} {row.get('text') or ''}".strip()
            batch.append(
                Document(
                    id=str(row["_id"]),
                    page_content=text,
                    metadata={"title": row.get("title") or ""},
                )
            )
            if len(batch) == 256:
                total += len(store.add_documents(batch))
                batch = []
                print(f"\rindexed {total} documents", end="", flush=True)
        if batch:
            total += len(store.add_documents(batch))
        print(f"\rindexed {total} documents in {time.perf_counter() - t0:.0f} s through LangChain")

    qrels: dict[str, dict[str, int]] = {}
    with (args.dataset / "qrels" / f"{args.split}.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(args.dataset / "queries.jsonl")}
    queries = {qid: text for qid, text in queries.items() if qid in qrels}

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    print(f"{len(queries)} {args.split} queries, k=10, retrieved through the LangChain store:")
    for label, kwargs in (("dense only", {"mode": "dense"}), ("hybrid (default fusion)", {})):
        run: dict[str, dict[str, float]] = {}
        t0 = time.perf_counter()
        for qid, text in queries.items():
            hits = store.similarity_search_with_score(text, k=10, **kwargs)
            run[qid] = {doc.id: score for doc, score in hits if doc.id}
        elapsed = time.perf_counter() - t0
        scores = evaluator.evaluate(run)
        ndcg = sum(s["ndcg_cut_10"] for s in scores.values()) / len(qrels)
        print(f"  {label:<24} nDCG@10 {ndcg:.4f}   ({elapsed / len(queries) * 1000:.1f} ms/query)")
    if not args.keep:
        with contextlib.suppress(NotFound):
            store.client.delete_collection(name)


if __name__ == "__main__":
    main()
