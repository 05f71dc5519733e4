"""Synthetic training queries for corpora without labelled ones (optional; needs a chat model).

A chat model behind any OpenAI-compatible API reads sampled passages and writes, for each, one
query the passage answers; each (query, passage) pair becomes a judgment. This is the query
generation half of GPL / InPars / Promptagator: the hard negatives still come from BM25.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.evaluation.experiment import Split
from lucene_hybrid.training.finetune import read_index_texts

PROMPT = (
    "Write one search query that a person would type into a search engine to find the passage "
    "below. Reply with the query only, no quotes, no explanation.\n\nPassage:\n{passage}"
)


@dataclass(frozen=True)
class QueryGenOptions:
    """Which passages, which model, where."""

    passages: int  # passages sampled (one query each)
    model: str = "gpt-4o-mini"
    base_url: str | None = None  # None: OPENAI_BASE_URL or api.openai.com
    seed: int = 42
    max_chars: int = 2_000  # of each passage sent to the model
    concurrency: int = 4
    temperature: float = 0.7


def _clean(reply: str | None) -> str:
    lines = [line.strip() for line in (reply or "").strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for prefix in ("query:", "Query:"):
        text = text.removeprefix(prefix).strip()
    return text.strip("\"'“”` ")


def generate_queries(
    passages: dict[str, str], opts: QueryGenOptions, client: Any, progress: bool = True
) -> Split:
    """Ask the chat model for one query per passage; a passage whose reply is empty is skipped.

    Raises:
        LuceneHybridError: when the service refuses (bad key, unknown model, unreachable).
    """
    import openai

    ids = sorted(passages)

    def one(docid: str) -> tuple[str, str]:
        message = PROMPT.format(passage=passages[docid][: opts.max_chars])
        try:
            reply = client.chat.completions.create(
                model=opts.model,
                messages=[{"role": "user", "content": message}],
                temperature=opts.temperature,
                max_tokens=64,
            )
        except openai.APIError as exc:
            raise LuceneHybridError(f"query generation with {opts.model} failed: {exc}") from exc
        return docid, _clean(reply.choices[0].message.content if reply.choices else "")

    topics: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    with ThreadPoolExecutor(max_workers=max(1, opts.concurrency)) as pool:
        results = pool.map(one, ids)
        for i, (docid, query) in enumerate(
            tqdm(results, total=len(ids), desc="generate queries", disable=not progress)
        ):
            if query:
                qid = f"gen-{i}"
                topics[qid] = query
                qrels[qid] = {docid: 1}
    return Split("generated", topics, qrels)


def generate_training_split(
    index: Path, opts: QueryGenOptions, *, save_to: Path | None = None, progress: bool = True
) -> Split:
    """Sample passages of an index, generate a query for each, and (optionally) save them.

    ``save_to`` gets ``queries.tsv`` and ``qrels.txt`` (TREC), reusable as --queries/--qrels.

    Raises:
        LuceneHybridError: without OPENAI_API_KEY, or when the service fails.
    """
    import openai

    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise LuceneHybridError(
            "--generate-queries calls an OpenAI-compatible chat model: set OPENAI_API_KEY "
            "(and --llm-base-url for a server other than OpenAI's)"
        )
    texts = {d: t for d, t in read_index_texts(index).items() if t.strip()}
    rng = random.Random(opts.seed)
    chosen = sorted(rng.sample(sorted(texts), min(opts.passages, len(texts))))
    client = openai.OpenAI(api_key=key, base_url=opts.base_url)
    split = generate_queries({d: texts[d] for d in chosen}, opts, client, progress)
    if len(split.topics) < 3:
        raise LuceneHybridError(
            f"the chat model wrote {len(split.topics)} usable queries for {len(chosen)} passages"
        )
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        with open(save_to / "queries.tsv", "w") as fh:
            for qid, text in split.topics.items():
                fh.write(f"{qid}\t{' '.join(text.split())}\n")
        with open(save_to / "qrels.txt", "w") as fh:
            for qid, docs in split.qrels.items():
                for docid in docs:
                    fh.write(f"{qid} 0 {docid} 1\n")
    return split
