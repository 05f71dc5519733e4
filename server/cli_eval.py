"""`lucene-hybrid eval` and `lucene-hybrid fuse`: the researcher's commands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from lucene_hybrid.indexing.encoders import DEFAULT_MODEL
from lucene_hybrid.indexing.errors import LuceneHybridError

from .evaluation.experiment import DEFAULT_CONFIGS, Split, run_experiment
from .evaluation.formats import read_qrels, read_topics
from .evaluation.metrics import evaluate
from .evaluation.presets import Preset, load_preset, preset_names
from .evaluation.report import write as write_report
from .evaluation.runner import LocalRetriever, RemoteRetriever, fuse_runs
from .hybrid import open_index
from .runfile import read_run, write_scored_run


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

    from .evaluation.compare import compare_indexes, markdown

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


def _report(result: dict, output: str | None, table: Callable[[dict], str]) -> int:
    """Print a benchmark's table; with ``--output STEM`` also write STEM.json and STEM.md."""
    from . import bench

    print(table(result))
    if output:
        js, md = bench.write(result, Path(output), table)
        print(f"written to {js} and {md}")
    return 0


def cmd_bench_search(args: argparse.Namespace) -> int:
    """Latency per mode and stage, in one thread and in N, text or vector given."""
    from . import bench

    topics = list(read_topics(args.topics).values())[: args.limit]
    modes = [m for m in args.modes.split(",") if m]
    searcher = open_index(args.index, load_query_encoder=any(m != "bm25" for m in modes))
    try:
        result = bench.run(
            searcher,
            topics,
            modes=modes,
            threads=[int(n) for n in args.threads.split(",")],
            k=args.k,
            depth=args.depth,
            label=args.label or Path(args.index).name,
            dense_search=args.dense_search,
        )
    finally:
        searcher.close()
    return _report(result, args.output, bench.markdown)


def cmd_bench_encode(args: argparse.Namespace) -> int:
    """The encoder's raw forward beside the encoding pipeline, per precision."""
    from itertools import islice

    from lucene_hybrid.indexing.corpus import read_corpus

    from . import bench_encode

    texts = [d.text for d in islice(read_corpus(args.corpus), args.limit) if d.text]
    if not texts or args.repeat < 1:
        raise LuceneHybridError(f"{args.corpus}: no text to encode (see --limit, --repeat)")
    result = bench_encode.encode(
        texts * args.repeat,
        model=args.model,
        precisions=[p for p in args.precisions.split(",") if p],
        batch_size=args.batch_size,
        device=args.device,
        max_length=args.max_length,
        label=args.label or Path(args.corpus).name,
        compare_st=args.st_encode,
        tokenize_workers=args.tokenize_workers,
        native_tokenizer=args.tokenizer == "auto",
    )
    return _report(result, args.output, bench_encode.encode_markdown)


def cmd_bench_http(args: argparse.Namespace) -> int:
    """Closed-loop HTTP load at several concurrencies against `serve` on loopback."""
    from contextlib import nullcontext

    from lucene_hybrid.indexing.manifest import read_manifest

    from . import bench_http

    if (args.index is None) == (args.url is None):
        raise LuceneHybridError("give --index DIR (served here) or --url URL --collection NAME")
    queries = list(read_topics(args.topics).values())[: args.limit]
    modes = [m for m in args.modes.split(",") if m]
    # The served index opened here too: it embeds the queries, as a client that embeds its own
    # would, and runs the in-process side of `beside_in_process`.
    searcher = None
    if args.index:
        local = modes != ["bm25"] and read_manifest(args.index).encoder.kind == "hf"
        searcher = open_index(args.index, load_query_encoder=local)
    try:
        vectors = None
        if searcher is not None and searcher.encoder is not None:
            vectors = searcher.query_vectors(queries)
        name = args.collection or (Path(args.index).name if args.index else "")
        server = (
            bench_http.serve(Path(args.index), name, jvm_heap=args.jvm_heap)
            if args.index
            else nullcontext((args.url, None))
        )
        with server as (url, pid):
            result = bench_http.run(
                url,
                name,
                queries,
                vectors=vectors,
                modes=modes,
                concurrency=[int(c) for c in args.concurrency.split(",")],
                k=args.k,
                depth=args.depth,
                pid=pid,
                label=args.label or name,
                searcher=searcher if args.beside else None,
            )
    finally:
        if searcher is not None:
            searcher.close()
    return _report(result, args.output, bench_http.markdown)


def cmd_bench_peers(args: argparse.Namespace) -> int:
    """lucene-hybrid beside Chroma, Qdrant and LanceDB on the index's own vectors."""
    from . import bench_peers

    topics = read_topics(args.topics)
    qrels = read_qrels(args.qrels) if args.qrels else None
    if qrels is not None:  # the judged queries only
        topics = {q: t for q, t in topics.items() if q in qrels}
    topics = dict(list(topics.items())[: args.limit])
    searcher = open_index(args.index)
    try:
        result = bench_peers.run(
            searcher,
            Path(args.index),
            topics,
            qrels=qrels,
            peers=[p for p in args.peers.split(",") if p],
            threads=args.threads,
            k=args.k,
            depth=args.depth,
            label=args.label or Path(args.index).name,
            rounds=args.rounds,
        )
    finally:
        searcher.close()
    return _report(result, args.output, bench_peers.markdown)


def cmd_bench_scale(args: argparse.Namespace) -> int:
    """Build and query collections of growing size: the cost curve."""
    from . import bench_scale

    topics = list(read_topics(args.topics).values())[: args.limit]
    sizes = [int(float(n)) for n in args.sizes.split(",") if n]
    result = bench_scale.run(
        Path(args.corpus), topics, sizes, Path(args.work), threads=args.threads, keep=args.keep
    )
    return _report(result, args.output, bench_scale.markdown)


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

    p = sub.add_parser("bench", help="benchmarks (results as JSON and Markdown)")
    bench_sub = p.add_subparsers(dest="bench_command", required=True)
    p = bench_sub.add_parser("search", help="in-process search latency and QPS per mode")
    p.add_argument("--index", required=True)
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--limit", type=int, default=300, help="queries measured per row")
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--threads", default="1,4", help="comma list of thread counts")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--depth", type=int, default=100, help="candidates per retriever (hybrid)")
    p.add_argument("--dense-search", choices=("auto", "exact", "hnsw"), default="auto")
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_search)

    p = bench_sub.add_parser("encode", help="encoder forward vs pipeline throughput per precision")
    p.add_argument("--corpus", required=True, help="corpus file (any format `index` reads)")
    p.add_argument("--limit", type=int, default=1000, help="documents encoded")
    p.add_argument("--model", default=DEFAULT_MODEL, help="HF name or local path")
    p.add_argument("--precisions", default="fp32,bf16,int8", help="comma list")
    p.add_argument(
        "--repeat", type=int, default=1, help="encode the documents this many times (a GPU's run)"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="default: 32 on a CPU, 512 on a GPU"
    )
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument(
        "--st-encode",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time sentence-transformers' encode() (the baseline)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda (default: cuda if seen)")
    p.add_argument(
        "--tokenize-workers",
        type=int,
        default=None,
        help="tokenizing processes for the tokenizers library "
        "(default: all cores but two on a GPU, none on a CPU)",
    )
    p.add_argument(
        "--tokenizer",
        choices=["auto", "tokenizers"],
        default="auto",
        help="auto: nanotoken where it gives the model's ids, else tokenizers (as `index` does); "
        "tokenizers: always the Rust tokenizers library (to compare)",
    )
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_encode)

    p = bench_sub.add_parser("http", help="closed-loop HTTP load against `serve` on loopback")
    p.add_argument("--index", default=None, help="index to serve in a child process")
    p.add_argument("--url", default=None, help="or a running server")
    p.add_argument("--collection", default=None, help="collection name (default: index's)")
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--limit", type=int, default=300, help="requests per row")
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--concurrency", default="1,4,16", help="comma list of client counts")
    p.add_argument("--jvm-heap", default=None, help="the served process's JVM heap, e.g. 512m")
    p.add_argument(
        "--no-beside",
        dest="beside",
        action="store_false",
        help="skip one client over HTTP alternating with the same search in process (--index)",
    )
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_http)

    p = bench_sub.add_parser(
        "peers", help="beside Chroma, Qdrant, LanceDB on the same vectors (extra: [bench])"
    )
    p.add_argument("--index", required=True)
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--qrels", default=None, help="judgments: adds nDCG@10 per system")
    p.add_argument("--limit", type=int, default=300, help="queries")
    p.add_argument("--peers", default="chroma,qdrant,lancedb")
    p.add_argument(
        "--rounds", type=int, default=3, help="every system measured in turn, this many times"
    )
    p.add_argument("--threads", type=int, default=4, help="threads for the QPS column")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--depth", type=int, default=100, help="our candidates per retriever")
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_peers)

    p = bench_sub.add_parser("scale", help="build and query 10k / 100k / 1M documents")
    p.add_argument("--corpus", required=True, help="source passages (repeated with perturbation)")
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma list of sizes")
    p.add_argument("--work", required=True, help="scratch folder for corpora and indexes")
    p.add_argument("--limit", type=int, default=300, help="queries per mode")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="indexing threads")
    p.add_argument("--keep", action="store_true", help="keep the indexes")
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_scale)

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
