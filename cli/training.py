"""`lucene-hybrid finetune`: the command line of the training loop."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.evaluation.experiment import Split
from lucene_hybrid.evaluation.formats import read_qrels, read_topics
from lucene_hybrid.training.finetune import TrainOptions, finetune
from lucene_hybrid.training.mining import MiningOptions


def cmd_finetune(args: argparse.Namespace) -> int:
    index, output = Path(args.index), Path(args.output)
    if args.generate_queries:
        if args.queries or args.qrels:
            raise LuceneHybridError("give --queries/--qrels or --generate-queries, not both")
        from lucene_hybrid.training.querygen import QueryGenOptions, generate_training_split

        gen = QueryGenOptions(
            passages=args.generate_queries,
            model=args.llm_model,
            base_url=args.llm_base_url,
            seed=args.seed,
        )
        train = generate_training_split(
            index, gen, save_to=output.with_name(output.name + ".queries")
        )
        print(f"generated {len(train.topics)} queries with {gen.model}")
    else:
        if not (args.queries and args.qrels):
            raise LuceneHybridError(
                "give --queries FILE and --qrels FILE (or --generate-queries N)"
            )
        train = Split("train", read_topics(args.queries), read_qrels(args.qrels))
    dev = None
    if args.dev_qrels:
        topics = read_topics(args.dev_queries or args.queries)
        dev = Split("dev", topics, read_qrels(args.dev_qrels))
    opts = TrainOptions(
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        warmup=args.warmup,
        epochs=args.epochs,
        per_query=args.per_query,
        max_steps=args.max_steps,
        max_length=args.max_length,
        eval_every=args.eval_every,
        patience=args.patience,
        seed=args.seed,
        dev_fraction=args.dev_fraction,
        dev_max_queries=args.dev_max_queries,
        dev_pool_depth=args.dev_pool_depth,
        precision=args.precision,
        max_minutes=args.max_minutes,
    )
    mining = MiningOptions(
        depth=args.depth,
        negatives=args.negatives,
        skip_top=args.skip_top,
        near_duplicate=args.near_duplicate,
    )
    r = finetune(
        index,
        train,
        output,
        dev=dev,
        mining=mining,
        opts=opts,
        device=args.device,
        threads=args.threads,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    t = r.training
    print(
        f"trained {t['steps_run']} steps ({t['examples_seen']:,} examples, best at step "
        f"{t['best_step']}{', stopped early' if t['stopped_early'] else ''}) on {r.device} in "
        f"{r.seconds['training']:.0f}s; loss {t['loss_first']} -> {t['loss_last']}"
    )
    print(
        f"dev nDCG@10 (pool of {r.data['dev_pool_documents']} docs): "
        f"{r.dev['before']:.4f} -> {r.dev['after']:.4f}"
    )
    print(f"model and model card in {output}/")
    print(f"next: lucene-hybrid reindex --index {index} --encoder {output}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune an index's encoder on its corpus (BM25 hard negatives, MNRL)",
    )
    p.add_argument("--index", required=True, help="index whose BM25 mines and whose encoder trains")
    p.add_argument("--queries", default=None, help="training topics (tsv, BEIR jsonl, TREC)")
    p.add_argument("--qrels", default=None, help="training judgments (TREC or BEIR tsv)")
    p.add_argument("--output", required=True, help="directory for the fine-tuned model")
    p.add_argument("--dev-queries", default=None, help="dev topics (default: --queries)")
    p.add_argument(
        "--dev-qrels", default=None, help="dev judgments (default: hold out --dev-fraction)"
    )
    g = p.add_argument_group("hard-negative mining")
    g.add_argument("--depth", type=int, default=100, help="BM25 candidates per query")
    g.add_argument("--negatives", type=int, default=10, help="hard negatives kept per query")
    g.add_argument("--skip-top", type=int, default=0, help="BM25 ranks skipped at the top")
    g.add_argument(
        "--near-duplicate", type=float, default=0.9, help="word Jaccard with a positive to skip"
    )
    d = TrainOptions()
    g = p.add_argument_group("training")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per micro-batch")
    g.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per step")
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument("--warmup", type=float, default=d.warmup, help="warm-up fraction of steps")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument(
        "--per-query", type=int, default=d.per_query, help="examples per query per epoch"
    )
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    g.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="wall-clock budget for the whole run: training stops (and keeps the best "
        "model so far) before a step and evaluation would overrun it",
    )
    g.add_argument("--max-length", type=int, default=None, help="tokens per text while training")
    g.add_argument("--eval-every", type=int, default=None, help="steps between dev evaluations")
    g.add_argument("--patience", type=int, default=d.patience)
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--dev-fraction", type=float, default=d.dev_fraction)
    g.add_argument("--dev-max-queries", type=int, default=d.dev_max_queries)
    g.add_argument("--dev-pool-depth", type=int, default=d.dev_pool_depth)
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if seen)")
    g.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default=d.precision,
        help="bf16 autocast; auto: on a GPU or a CPU with AMX (fp32 weights either way)",
    )
    g = p.add_argument_group("synthetic queries (no labelled queries; optional)")
    g.add_argument(
        "--generate-queries",
        type=int,
        default=0,
        metavar="N",
        help="sample N passages and have a chat model write a query for each",
    )
    g.add_argument("--llm-model", default="gpt-4o-mini", help="chat model name")
    g.add_argument(
        "--llm-base-url", default=None, help="OpenAI-compatible base URL (key: OPENAI_API_KEY)"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BM25 search threads")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_finetune)
