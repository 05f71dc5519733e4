"""Fine-tune an index's encoder on its own corpus: BM25 hard negatives, MNRL loss.

The loop is plain torch around sentence-transformers' loss (no Trainer, no `accelerate`): it
runs on a laptop CPU in bounded steps and on a GPU with bf16 autocast when torch sees one.
Every ``eval_every`` steps the model ranks a held-out dev pool (the dev queries' judged
documents plus their BM25 candidates); the best dev state is kept and training stops after
``patience`` evaluations without improvement. The same seed gives the same model.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import BM25_DIR, HNSW_DIR, read_manifest
from lucene_hybrid.evaluation.experiment import Split
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder, fast_bf16
from lucene_hybrid.indexing.reindex import iter_documents
from lucene_hybrid.search.hybrid import HybridSearcher, open_index
from lucene_hybrid.search.lucene_search import open_readonly
from lucene_hybrid.search.types import SearchParams
from lucene_hybrid.training.mining import (
    Example,
    MiningOptions,
    batches,
    epoch_examples,
    fill_random_negatives,
    mine_hard_negatives,
)

log = logging.getLogger(__name__)

MODEL_CARD = "README.md"
REPORT = "finetune.json"


@dataclass(frozen=True)
class TrainOptions:
    """Optimization and early stopping."""

    batch_size: int = 32  # examples per micro-batch: the in-batch negatives of MNRL
    grad_accum: int = 1  # micro-batches per optimizer step (memory-bound GPUs)
    lr: float = 2e-5
    warmup: float = 0.1  # fraction of steps with a linearly rising learning rate
    epochs: int = 1
    per_query: int = 1  # examples per training query per epoch (positives rotate)
    max_steps: int | None = None  # optimizer steps; None: as many as the epochs hold
    max_length: int | None = None  # tokens per text in training and in the saved model
    eval_every: int | None = None  # steps between dev evaluations (None: 4 per run)
    patience: int = 2  # evaluations without improvement before stopping
    scale: float = 20.0  # MNRL's similarity scale (inverse temperature)
    seed: int = 42
    dev_fraction: float = 0.1  # of the training queries, when no dev split is given
    dev_max_queries: int = 100
    dev_pool_depth: int = 30  # BM25 candidates per dev query added to the dev pool
    max_minutes: float | None = None  # wall-clock budget for the whole run (mining included)
    precision: str = "auto"  # bf16 autocast ("bf16"), none ("fp32"), or bf16 where native


def judged_positives(split: Split) -> dict[str, set[str]]:
    """Query id -> documents judged relevant (grade > 0), for the split's queries that have any."""
    return {
        q: {d for d, g in docs.items() if g > 0}
        for q, docs in split.qrels.items()
        if q in split.topics and any(g > 0 for g in docs.values())
    }


@dataclass
class FinetuneResult:
    """What a run did, as written to finetune.json and the model card."""

    base_model: str
    output: str
    device: str
    data: dict[str, Any]
    mining: dict[str, Any]
    training: dict[str, Any]
    dev: dict[str, Any]
    losses: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_dev(train: Split, opts: TrainOptions, dev: Split | None) -> tuple[Split, Split]:
    """The dev split: given, or ``dev_fraction`` of the training queries held out (seeded)."""
    rng = random.Random(opts.seed)
    if dev is None:
        qids = sorted(judged_positives(train))
        rng.shuffle(qids)
        n_dev = max(1, round(len(qids) * opts.dev_fraction))
        held = set(qids[:n_dev])
        if len(qids) - n_dev < 2:
            raise LuceneHybridError(
                f"{len(qids)} judged training queries: too few to hold some out for early "
                "stopping; give a dev split (--dev-queries/--dev-qrels) or more queries"
            )
        dev = Split("dev", {q: train.topics[q] for q in held}, {q: train.qrels[q] for q in held})
        train = Split(
            train.name,
            {q: t for q, t in train.topics.items() if q not in held},
            {q: d for q, d in train.qrels.items() if q not in held},
        )
    judged = sorted(judged_positives(dev))
    if len(judged) > opts.dev_max_queries:
        judged = sorted(rng.sample(judged, opts.dev_max_queries))
    dev = Split(dev.name, {q: dev.topics[q] for q in judged}, {q: dev.qrels[q] for q in judged})
    if not judged:
        raise LuceneHybridError("the dev split has no judged queries in its topics")
    return train, dev


class DevPool:
    """A small ranking task for early stopping: dev queries over their judged + BM25 documents."""

    def __init__(self, dev: Split, ranked: Mapping[str, Sequence[str]], texts: Mapping[str, str]):
        ids = {d for docs in dev.qrels.values() for d in docs} | {
            d for r in ranked.values() for d in r
        }
        self.doc_ids = sorted(d for d in ids if d in texts)
        self.doc_texts = [texts[d] for d in self.doc_ids]
        self.qids = sorted(dev.topics)
        self.query_texts = [dev.topics[q] for q in self.qids]
        self.qrels = dev.qrels

    def score(self, encoder: HuggingFaceEncoder) -> float:
        """nDCG@10 of dense ranking over the pool."""
        docs = encoder.encode_documents(self.doc_texts)
        queries = encoder.encode_queries(self.query_texts)
        sims = queries @ docs.T
        run = {}
        for i, qid in enumerate(self.qids):
            top = np.argsort(-sims[i])[:100]
            run[qid] = {self.doc_ids[j]: float(sims[i, j]) for j in top}
        return evaluate(run, self.qrels, ("nDCG@10",)).mean["nDCG@10"]


def _bm25_rankings(
    searcher: HybridSearcher, topics: Mapping[str, str], depth: int, threads: int
) -> dict[str, list[str]]:
    qids = sorted(topics)
    params = SearchParams(mode="bm25", k=depth, fetch_docs=False)
    hits = searcher.batch_search([topics[q] for q in qids], params, threads=threads)
    return {q: [h.docid for h in hs] for q, hs in zip(qids, hits, strict=True)}


def read_index_texts(index: Path) -> dict[str, str]:
    """doc id -> text of every document in an index (read-only; a server may be serving it)."""
    bm25, hnsw = open_readonly(index / BM25_DIR), open_readonly(index / HNSW_DIR)
    try:
        return {d.docid: d.text for d in iter_documents(bm25, hnsw)}
    finally:
        bm25.close()
        hnsw.close()


def finetune(
    index: Path,
    train: Split,
    output: Path,
    *,
    dev: Split | None = None,
    mining: MiningOptions | None = None,
    opts: TrainOptions | None = None,
    device: str | None = None,
    threads: int = 2,
    overwrite: bool = False,
    progress: bool = True,
) -> FinetuneResult:
    """Mine hard negatives with the index's BM25 and fine-tune its encoder; save to ``output``.

    Raises:
        LuceneHybridError: on an index without a local model, unusable queries or judgments,
            or an existing ``output`` without ``overwrite``.
    """
    import torch

    mining = mining or MiningOptions()
    opts = opts or TrainOptions()
    t_start = time.perf_counter()
    manifest = read_manifest(index)
    spec = manifest.encoder
    if spec.kind != "hf":
        raise LuceneHybridError(
            f"index {index} was built with {spec.describe()}: only a local Hugging Face / "
            "sentence-transformers encoder can be fine-tuned"
        )
    if output.exists() and not overwrite:
        raise LuceneHybridError(f"{output} exists; pass --overwrite to replace it")
    if opts.batch_size < 2:
        raise LuceneHybridError("--batch-size must be at least 2 (in-batch negatives)")
    _seed_everything(opts.seed)
    texts = read_index_texts(index)
    known = {d for d, t in texts.items() if t}
    train = Split(
        train.name,
        train.topics,
        {q: {d: g for d, g in docs.items() if d in known} for q, docs in train.qrels.items()},
    )
    train, dev = split_dev(train, opts, dev)
    positives = judged_positives(train)
    if len(positives) < 2:
        raise LuceneHybridError(
            f"{len(positives)} training queries have a judged document in this index: "
            "check that the qrels' ids are the index's document ids"
        )

    t0 = time.perf_counter()
    searcher = open_index(index, load_query_encoder=False)
    try:
        ranked = _bm25_rankings(
            searcher, {q: train.topics[q] for q in positives}, mining.depth, threads
        )
        dev_ranked = _bm25_rankings(searcher, dev.topics, opts.dev_pool_depth, threads)
    finally:
        searcher.close()
    negatives = mine_hard_negatives(ranked, positives, texts, mining)
    # Every example needs a negative: MNRL takes columns of equal length, and a batch without
    # its hard-negative column learns only from in-batch ones. A query BM25 found nothing
    # usable for gets random documents it is not judged relevant to.
    no_hard = sum(1 for q in positives if not negatives.get(q))
    easy = fill_random_negatives(negatives, positives, sorted(known), mining.negatives, opts.seed)
    pool = DevPool(dev, dev_ranked, texts)
    mine_s = time.perf_counter() - t0

    encoder = HuggingFaceEncoder(spec, batch_size=64, device=device, trainable=True)
    model = encoder.model
    base_max_len = model.max_seq_length
    if opts.max_length:
        model.max_seq_length = opts.max_length
    if opts.precision not in ("auto", "bf16", "fp32"):
        raise LuceneHybridError(f"precision must be auto, bf16 or fp32, not {opts.precision!r}")
    use_bf16 = opts.precision == "bf16" or (opts.precision == "auto" and fast_bf16(encoder.device))
    autocast_device = "cuda" if encoder.device.startswith("cuda") else "cpu"

    def autocast() -> Any:
        # fp32 master weights and optimizer state; bf16 only inside the forward passes
        return torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=use_bf16)

    t0 = time.perf_counter()
    with autocast():
        dev_before = pool.score(encoder)
    eval_s = time.perf_counter() - t0
    log.info("dev nDCG@10 before training: %.4f", dev_before)

    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    loss_fn = MultipleNegativesRankingLoss(model, scale=opts.scale)
    rng = random.Random(opts.seed)
    plan: list[list[Example]] = []
    for epoch in range(opts.epochs):
        examples = epoch_examples(
            positives, negatives, epoch=epoch, per_query=opts.per_query, rng=rng
        )
        plan.extend(batches(examples, opts.batch_size, positives))
    steps = len(plan) // opts.grad_accum
    if opts.max_steps is not None:
        steps = min(steps, opts.max_steps)
    if steps < 1:
        raise LuceneHybridError("no training step fits: lower --batch-size or --grad-accum")
    eval_every = opts.eval_every or max(1, steps // 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(steps * opts.warmup), steps)

    best_score, best_step = dev_before, 0
    best_state = copy.deepcopy(model.state_dict())
    history = [{"step": 0, "dev_ndcg@10": round(dev_before, 4)}]
    losses: list[float] = []
    bad_evals = 0
    stopped_early = out_of_time = False
    last_eval_s = eval_before = eval_s
    prefix_q, prefix_p = spec.query_prefix, spec.passage_prefix
    t_train = time.perf_counter()
    bar = tqdm(total=steps, desc="fine-tune", unit="step", disable=not progress, dynamic_ncols=True)
    for step in range(1, steps + 1):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for micro in plan[(step - 1) * opts.grad_accum : step * opts.grad_accum]:
            columns = [
                [prefix_q + train.topics[q] for q, _, _ in micro],
                [prefix_p + texts[p] for _, p, _ in micro],
            ]
            if all(n is not None for _, _, n in micro):
                columns.append([prefix_p + texts[n] for _, _, n in micro if n is not None])
            features = [_to_device(model.tokenize(col), model.device) for col in columns]
            with autocast():
                loss = loss_fn(features, None) / opts.grad_accum
            loss.backward()
            step_loss += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(round(step_loss, 5))
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.3f}", dev=f"{best_score:.4f}")
        # The time budget stops after the step whose successor and final evaluation would not
        # fit; that step is evaluated so the best model is chosen from what was trained.
        if opts.max_minutes is not None:
            elapsed = time.perf_counter() - t_start
            step_s = (time.perf_counter() - t_train - (eval_s - eval_before)) / step
            out_of_time = elapsed + step_s + last_eval_s > opts.max_minutes * 60
        if step % eval_every == 0 or step == steps or out_of_time:
            t0 = time.perf_counter()
            with autocast():
                score = pool.score(encoder)
            last_eval_s = time.perf_counter() - t0
            eval_s += last_eval_s
            history.append({"step": step, "dev_ndcg@10": round(score, 4)})
            log.info("step %d: dev nDCG@10 %.4f", step, score)
            if score > best_score:
                best_score, best_step, bad_evals = score, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_evals += 1
                if bad_evals >= opts.patience:
                    stopped_early = step < steps
                    break
        if out_of_time:
            log.info("time budget of %s minutes reached after step %d", opts.max_minutes, step)
            break
    bar.close()
    train_s = time.perf_counter() - t_train
    model.load_state_dict(best_state)
    # The model is saved with the length it was trained and chosen at: on NFCorpus a model
    # trained at 128 tokens and used at the base model's 256 lost what it had gained.
    model.eval()

    result = FinetuneResult(
        base_model=spec.model,
        output=str(output),
        device=encoder.device,
        data={
            "index": str(index),
            "documents": len(texts),
            "train_queries": len(positives),
            "train_judgments": sum(len(p) for p in positives.values()),
            "dev_queries": len(pool.qids),
            "dev_pool_documents": len(pool.doc_ids),
        },
        mining={
            **asdict(mining),
            "random_negatives": easy,
            "negatives_mined": sum(len(n) for n in negatives.values()) - easy,
            "queries_with_random_negatives": no_hard,
        },
        training={
            **asdict(opts),
            "steps_planned": steps,
            "steps_run": len(losses),
            "examples_seen": sum(len(b) for b in plan[: len(losses) * opts.grad_accum]),
            "stopped_early": stopped_early,
            "stopped_by_time_budget": out_of_time and len(losses) < steps,
            "bf16": use_bf16,
            "max_seq_length": {"base": base_max_len, "saved": model.max_seq_length},
            "best_step": best_step,
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
        },
        dev={"before": round(dev_before, 4), "after": round(best_score, 4), "history": history},
        losses=losses,
        seconds={
            "mining": round(mine_s, 1),
            "training": round(train_s, 1),
            "dev_evaluation": round(eval_s, 1),
            "total": round(time.perf_counter() - t_start, 1),
        },
    )
    _save(model, output, result, spec, overwrite)
    return result


def _to_device(features: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def _save(
    model: Any, output: Path, result: FinetuneResult, spec: EncoderSpec, overwrite: bool
) -> None:
    """Write the model, finetune.json and the model card into ``output`` in one rename."""
    import shutil

    tmp = output.with_name(f".{output.name}.saving")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    (tmp / REPORT).write_text(json.dumps(asdict(result), indent=2))
    (tmp / MODEL_CARD).write_text(model_card(result, spec))
    if output.exists() and overwrite:
        shutil.rmtree(output)
    tmp.rename(output)


def model_card(result: FinetuneResult, spec: EncoderSpec) -> str:
    """A Markdown model card: base model, data, parameters, dev scores before and after."""
    t, d, m = result.training, result.data, result.mining
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"# Fine-tuned {result.base_model}",
        "",
        f"Made by `lucene-hybrid finetune` on {now} ({result.device}).",
        "",
        "## Base model and data",
        f"- Base model: `{result.base_model}`"
        + (
            f" (query prefix {spec.query_prefix!r}, passage prefix {spec.passage_prefix!r})"
            if spec.query_prefix or spec.passage_prefix
            else ""
        ),
        f"- Index: `{d['index']}` ({d['documents']:,} documents)",
        f"- Training: {d['train_queries']:,} queries, {d['train_judgments']:,} judged-relevant "
        "pairs",
        f"- Dev (early stopping): {d['dev_queries']} queries ranked over a pool of "
        f"{d['dev_pool_documents']:,} documents (their judged documents + BM25 top "
        f"{t['dev_pool_depth']})",
        "",
        "## Method",
        "MultipleNegativesRankingLoss (sentence-transformers) over (query, positive, hard "
        "negative) triples; every other document in a batch is also a negative. Hard negatives: "
        f"BM25 top {m['depth']} of the index (skipping the top {m['skip_top']}), judged positives "
        f"and near-duplicates of them (word Jaccard ≥ {m['near_duplicate']}) excluded, "
        f"up to {m['negatives']} kept per query ({m['negatives_mined']:,} in all); "
        f"{m['queries_with_random_negatives']:,} queries with none got random unjudged "
        "documents instead.",
        "",
        "| parameter | value |",
        "|---|---|",
    ]
    for key in (
        "batch_size",
        "grad_accum",
        "lr",
        "warmup",
        "epochs",
        "per_query",
        "max_length",
        "scale",
        "seed",
        "steps_planned",
        "steps_run",
        "examples_seen",
        "best_step",
        "stopped_early",
        "max_seq_length",
    ):
        lines.append(f"| {key} | {t[key]} |")
    lines += [
        "",
        "## Scores (dev pool, nDCG@10)",
        "",
        "| | nDCG@10 |",
        "|---|---|",
        f"| before (base model) | {result.dev['before']:.4f} |",
        f"| after (best step {t['best_step']}) | {result.dev['after']:.4f} |",
        "",
        f"Loss: {t['loss_first']} at step 1, {t['loss_last']} at the last step. Time: "
        f"mining {result.seconds['mining']} s, training {result.seconds['training']} s, dev "
        f"evaluation {result.seconds['dev_evaluation']} s.",
        "",
        "Use it: `lucene-hybrid reindex --index INDEX --encoder THIS_DIRECTORY`.",
        "",
    ]
    return "\n".join(lines)
