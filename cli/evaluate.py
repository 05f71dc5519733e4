"""`lucene-hybrid eval` and `lucene-hybrid fuse`: the researcher's commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.evaluation.experiment import DEFAULT_CONFIGS, Split, run_experiment
from lucene_hybrid.evaluation.formats import read_qrels, read_topics
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.evaluation.presets import Preset, load_preset, preset_names
from lucene_hybrid.evaluation.report import write as write_report
from lucene_hybrid.evaluation.runfile import read_run, write_scored_run
from lucene_hybrid.evaluation.runner import LocalRetriever, RemoteRetriever, fuse_runs
from lucene_hybrid.search.hybrid import open_index


def _table(result: dict) -> str:
    metrics = result["metrics"]
    head = f"{'configuration':<28}" + "".join(f"{m:>11}" for m in metrics)
    lines = [head, "-" * len(head)]
    for row in result["rows"]:
        cells = "".join(
            f"{row['mean'][m]:>10.4f}{row['vs_baseline'][m]['mark'] or ' '}" for m in metrics
        )
        lines.append(f"{row['name']:<28}{cells}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    preset = load_preset(args.preset) if args.preset else None
    if preset is None and not (args.topics and args.qrels):
        raise LuceneHybridError(
            f"give --preset ({', '.join(preset_names())}) or both --topics and --qrels"
        )
    p = preset or Preset(name="custom", topics=args.topics, qrels=args.qrels)
    topics_path, qrels_path = args.topics or p.topics, args.qrels or p.qrels
    if bool(args.index) == bool(args.server):
        raise LuceneHybridError("give --index DIR, or --server URL with --collection NAME")
    index = Path(args.index) if args.index else None
    if index is not None and not index.exists():
        corpus = args.corpus or p.corpus or "CORPUS"
        raise LuceneHybridError(
            f"no index at {index}: build it first with "
            f"`lucene-hybrid index {corpus} --index {index}`"
        )
    test = Split("test", read_topics(topics_path), read_qrels(qrels_path))
    tune = None
    if args.tune_on or (args.tune_topics and args.tune_qrels):
        tt = args.tune_topics or p.tune_topics
        tq = args.tune_qrels or p.tune_qrels
        if not (tt and tq):
            raise LuceneHybridError(
                f"preset {p.name} names no tuning split: pass --tune-topics/--tune-qrels"
            )
        tune = Split(Path(tq).name, read_topics(tt), read_qrels(tq))
    configs = [c for c in args.configs.split(",") if c] if args.configs else list(DEFAULT_CONFIGS)
    configs = _merge_params(configs)
    searcher = None
    if index is not None:
        searcher = open_index(index, load_query_encoder=any(c != "bm25" for c in configs))
        retriever: LocalRetriever | RemoteRetriever = LocalRetriever(searcher, args.threads)
        where = str(index)
    else:
        if not args.collection:
            raise LuceneHybridError("--server needs --collection NAME")
        retriever = RemoteRetriever(
            args.server, args.collection, os.environ.get("LUCENE_HYBRID_API_KEY")
        )
        where = f"{args.server} collection {args.collection}"
    try:
        out_dir = Path(args.output_dir or f"eval-{p.name}")
        result = run_experiment(
            retriever,
            test,
            name=p.name,
            index=where,
            configs=configs,
            baseline=args.baseline,
            metrics=tuple(p.metrics),
            k=args.k,
            relevance_level=p.relevance_level,
            sweep=args.sweep,
            tune=tune,
            out_dir=out_dir,
            description=p.description,
        )
    finally:
        if searcher is not None:
            searcher.close()
    files = write_report(result, out_dir)
    print(f"{p.name}: {result['queries']} judged queries, k={args.k} ({p.description})\n")
    print(_table(result))
    print(f"\n+/-: significantly better/worse than {args.baseline} (paired t-test, p<0.05)")
    for curve_name, curve in (result.get("sweep") or {}).items():
        print(f"sweep {curve_name}: " + ", ".join(f"{x:g}:{y:.4f}" for x, y in curve))
    if result.get("sweep"):
        print("(sweeps are scored on the test queries: choosing by them overstates the result)")
    for c in (result.get("tuning") or {}).get("choices", []):
        print(
            f"tuned on {result['tuning']['split']}: {c['family']} {c['param']}={c['value']:g} "
            f"-> test {result['metrics'][0]} {c['test_score']:.4f}"
        )
    print(f"\nruns and report in {out_dir}/ ({files['markdown'].name}, {files['png'].name})")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Same configurations on two indexes (e.g. before and after `reindex`), paired tests."""
    import json

    from lucene_hybrid.evaluation.compare import compare_indexes, markdown

    split = Split("test", read_topics(args.topics), read_qrels(args.qrels))
    configs = _merge_params([c for c in args.configs.split(",") if c])
    metrics = [m for m in args.metrics.split(",") if m]
    searchers = []
    try:
        retrievers = []
        for path in (args.before, args.after):
            dense = any(c != "bm25" for c in configs)
            searchers.append(open_index(path, load_query_encoder=dense))
            retrievers.append(LocalRetriever(searchers[-1], args.threads))
        result = compare_indexes(
            retrievers[0],
            retrievers[1],
            split,
            configs=configs,
            metrics=metrics,
            k=args.k,
            relevance_level=args.relevance_level,
        )
    finally:
        for s in searchers:
            s.close()
    table = markdown(result, args.before, args.after)
    print(table)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
        out.with_suffix(".json").write_text(json.dumps(result, indent=2))
        print(f"written to {out} and {out.with_suffix('.json')}")
    return 0


def _merge_params(configs: list[str]) -> list[str]:
    # "--configs rrf:w=1,2" splits on the comma inside w=; glue such pieces back on.
    merged: list[str] = []
    for piece in configs:
        if merged and piece[:1].isdigit():
            merged[-1] += "," + piece
        else:
            merged.append(piece)
    return merged


def cmd_fuse(args: argparse.Namespace) -> int:
    runs = [read_run(r) for r in args.runs]
    try:
        weights = [float(w) for w in args.weights.split(",")] if args.weights else None
    except ValueError:
        raise LuceneHybridError(
            f"--weights takes one number per run, separated by commas: got {args.weights!r}"
        ) from None
    fused = fuse_runs(
        runs,
        args.method,
        args.k,
        rrf_k=args.rrf_k,
        weights=weights,
        normalization=args.normalization,
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w") as fh:
        write_scored_run(fh, fused, args.tag or f"fused-{args.method}")
    os.replace(tmp, out)
    print(f"fused {len(runs)} runs ({args.method}) over {len(fused)} queries -> {out}")
    if args.qrels:
        qrels = read_qrels(args.qrels)
        names = [*args.runs, str(out)]
        for name, run in zip(names, [*runs, fused], strict=True):
            mean = evaluate(run, qrels, ("nDCG@10", "R@100"), args.relevance_level).mean
            print(
                f"  {Path(name).name:<45} nDCG@10 {mean['nDCG@10']:.4f}  R@100 {mean['R@100']:.4f}"
            )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate configurations on a benchmark (preset or files)")
    p.add_argument("--preset", default=None, help=f"one of: {', '.join(preset_names())}")
    p.add_argument("--index", default=None, help="index directory (lucene-hybrid or Pyserini)")
    p.add_argument("--server", default=None, help="or a running server, e.g. http://127.0.0.1:8000")
    p.add_argument(
        "--collection", default=None, help="collection on --server (key: LUCENE_HYBRID_API_KEY)"
    )
    p.add_argument("--topics", default=None, help="override the preset's topics")
    p.add_argument("--qrels", default=None, help="override the preset's qrels")
    p.add_argument("--corpus", default=None, help="corpus path, for the build hint")
    p.add_argument(
        "--configs",
        default=None,
        help="comma list: bm25, dense, rrf[:k=60][:w=1,1][:depth=100], "
        "linear[:alpha=0.5][:norm=zscore][:depth=100], default (the product default; "
        "default list: bm25,dense,default,rrf,linear)",
    )
    p.add_argument("--baseline", default="bm25", help="configuration the others are tested against")
    p.add_argument("-k", type=int, default=1000, help="hits per query in the runs")
    p.add_argument("--sweep", action="store_true", help="also sweep RRF k, linear alpha and depth")
    p.add_argument(
        "--tune-on", action="store_true", help="pick fusion parameters on the preset's tuning split"
    )
    p.add_argument("--tune-topics", default=None)
    p.add_argument("--tune-qrels", default=None)
    p.add_argument("--output-dir", default=None, help="runs and report (default eval-PRESET)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "compare", help="evaluate two indexes of one corpus (before/after a model change)"
    )
    p.add_argument("--before", required=True, help="index directory (the baseline)")
    p.add_argument("--after", required=True, help="index directory (the change)")
    p.add_argument("--topics", required=True)
    p.add_argument("--qrels", required=True)
    p.add_argument("--configs", default="bm25,dense,default", help="as for eval")
    p.add_argument("--metrics", default="nDCG@10,R@100")
    p.add_argument("-k", type=int, default=1000, help="hits per query in the runs")
    p.add_argument("--relevance-level", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--output", default=None, help="write the Markdown table (and .json) here")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("fuse", help="fuse TREC run files (RRF or normalized linear)")
    p.add_argument("runs", nargs="+", help="TREC run files")
    p.add_argument("--output", required=True)
    p.add_argument("--method", choices=["rrf", "linear"], default="rrf")
    p.add_argument("--rrf-k", type=float, default=60.0)
    p.add_argument("--weights", default=None, help="one weight per run, comma separated")
    p.add_argument("--normalization", choices=["minmax", "zscore"], default="minmax")
    p.add_argument("-k", type=int, default=1000)
    p.add_argument("--tag", default=None)
    p.add_argument("--qrels", default=None, help="also evaluate the inputs and the fused run")
    p.add_argument("--relevance-level", type=int, default=1)
    p.set_defaults(func=cmd_fuse)
