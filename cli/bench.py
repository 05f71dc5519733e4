"""`lucene-hybrid bench ...`: the benchmarks' commands (results as JSON and Markdown)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from lucene_hybrid.bench.common import write
from lucene_hybrid.core.encoder_spec import DEFAULT_MODEL
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import QUANTIZATIONS
from lucene_hybrid.evaluation.formats import read_qrels, read_topics
from lucene_hybrid.search.hybrid import open_index


def _report(result: dict, output: str | None, table: Callable[[dict], str]) -> int:
    """Print a benchmark's table; with ``--output STEM`` also write STEM.json and STEM.md."""
    print(table(result))
    if output:
        js, md = write(result, Path(output), table)
        print(f"written to {js} and {md}")
    return 0


def cmd_bench_search(args: argparse.Namespace) -> int:
    """Latency per mode and stage, in one thread and in N, text or vector given."""
    from lucene_hybrid.bench import search as bench

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

    from lucene_hybrid.bench import encode as bench_encode
    from lucene_hybrid.indexing.corpus import read_corpus

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

    from lucene_hybrid.bench import http as bench_http
    from lucene_hybrid.core.manifest import read_manifest

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
    from lucene_hybrid.bench import peers as bench_peers

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


def cmd_bench_cluster(args: argparse.Namespace) -> int:
    """Sharded collections behind serve --ray beside one collection, in the same server."""
    from lucene_hybrid.bench import cluster as bench_cluster
    from lucene_hybrid.bench.scale import hash_vectors

    topics = list(read_topics(args.topics).values())[: args.limit]
    built = {}
    for item in args.built or []:
        n, sep, where = item.partition("=")
        if not sep or not n.isdigit():
            raise LuceneHybridError(f"--built {item!r}: give N=DIR (a collection of N shards)")
        built[int(n)] = Path(where)
    searcher = open_index(args.index, load_query_encoder=not args.hash_queries)
    hashed = hash_vectors(topics, searcher.manifest.dim) if args.hash_queries else None
    try:
        result = bench_cluster.run(
            Path(args.index),
            searcher,
            topics,
            Path(args.work),
            shards=[int(n) for n in args.shards.split(",") if n],
            concurrency=[int(c) for c in args.concurrency.split(",") if c],
            modes=[m for m in args.modes.split(",") if m],
            k=args.k,
            depth=args.depth,
            heap=args.shard_heap,
            ray_address=args.ray,
            label=args.label or Path(args.index).name,
            built=built,
            ef_sweep=[int(e) for e in args.ef_search.split(",") if e],
            chroma=args.chroma,
            query_vectors=hashed,
        )
    finally:
        searcher.close()
    return _report(result, args.output, bench_cluster.markdown)


def cmd_bench_scale(args: argparse.Namespace) -> int:
    """Build and query collections of growing size: the cost curve."""
    from lucene_hybrid.bench import scale as bench_scale

    sizes = [int(float(n)) for n in args.sizes.split(",") if n]
    if args.corpus_only:
        for path in bench_scale.write_corpora(Path(args.corpus), sizes, Path(args.work)):
            print(f"wrote {path}")
        return 0
    if not args.topics:
        raise LuceneHybridError("bench scale needs --topics (unless --corpus-only)")
    topics = list(read_topics(args.topics).values())[: args.limit]
    result = bench_scale.run(
        Path(args.corpus), topics, sizes, Path(args.work), threads=args.threads, keep=args.keep
    )
    return _report(result, args.output, bench_scale.markdown)


def cmd_bench_build(args: argparse.Namespace) -> int:
    """One corpus built in one process and as sharded collections on Ray: time per stage."""
    from lucene_hybrid.bench import build as bench_build

    result = bench_build.run(
        Path(args.corpus),
        Path(args.work),
        [int(n) for n in args.shards.split(",") if n],
        ray_address=args.ray,
        args=args.index_args.split() if args.index_args else [],
        label=args.label or "",
        keep=args.keep,
    )
    return _report(result, args.output, bench_build.markdown)


def cmd_bench_quantization(args: argparse.Namespace) -> int:
    """One index rebuilt in each of Lucene's vector formats, and measured in each."""
    from lucene_hybrid.bench import quantization as bench_quantization

    topics = dict(list(read_topics(args.topics).items())[: args.limit])
    result = bench_quantization.run(
        Path(args.index),
        topics,
        Path(args.work),
        qrels=read_qrels(args.qrels) if args.qrels else None,
        formats=[f for f in args.formats.split(",") if f],
        oversample=args.oversample,
        threads=args.threads,
    )
    return _report(result, args.output, bench_quantization.markdown)


def add_parsers(sub: argparse._SubParsersAction) -> None:
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

    p = bench_sub.add_parser(
        "cluster", help="sharded collections on Ray beside one collection (extra: [cluster])"
    )
    p.add_argument("--index", required=True, help="a built index: its documents fill the shards")
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--work", required=True, help="scratch folder (emptied) for the collections")
    p.add_argument("--shards", default="1,2,4", help="comma list of shard counts")
    p.add_argument("--concurrency", default="1,4,16", help="comma list of client counts")
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--limit", type=int, default=300, help="queries")
    p.add_argument("--shard-heap", default="512m", help="each shard's JVM heap")
    p.add_argument(
        "--built",
        action="append",
        metavar="N=DIR",
        help="a collection built by `index --shards N` (N=1: or a built index), served as "
        "shards-N instead of filled (repeatable)",
    )
    p.add_argument(
        "--ef-search",
        default="",
        help="comma list: dense recall@k against exact search at each efSearch (and default)",
    )
    p.add_argument("--chroma", action="store_true", help="a recall row for Chroma's HNSW too")
    p.add_argument(
        "--hash-queries",
        action="store_true",
        help="the index holds `bench scale`'s hashed vectors: hash the queries the same way",
    )
    p.add_argument("--ray", default=None, help="a Ray cluster's address (default: two local nodes)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_cluster)

    p = bench_sub.add_parser("scale", help="build and query 10k / 100k / 1M documents")
    p.add_argument("--corpus", required=True, help="source passages (repeated with perturbation)")
    p.add_argument("--topics", default=None, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma list of sizes")
    p.add_argument("--work", required=True, help="scratch folder for corpora and indexes")
    p.add_argument("--limit", type=int, default=300, help="queries per mode")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="indexing threads")
    p.add_argument("--keep", action="store_true", help="keep the indexes")
    p.add_argument(
        "--corpus-only",
        action="store_true",
        help="only write the corpora (WORK/corpus-N.jsonl, vectors in a 'vector' field)",
    )
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_scale)

    p = bench_sub.add_parser(
        "build", help="build time per stage: one process beside index --shards N on Ray"
    )
    p.add_argument("--corpus", required=True, help="corpus file (any format `index` reads)")
    p.add_argument("--work", required=True, help="scratch folder (emptied) for the builds")
    p.add_argument("--shards", default="1,2,4", help="comma list; 1: the single-process build")
    p.add_argument("--ray", default=None, help="a Ray cluster's address (default: one per build)")
    p.add_argument("--index-args", default=None, help='more `index` options, e.g. "--threads 2"')
    p.add_argument("--keep", action="store_true", help="keep the builds (WORK/shards-N)")
    p.add_argument("--label", default=None)
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_build)

    p = bench_sub.add_parser(
        "quantization", help="one index in each HNSW vectors format: size, speed, recall"
    )
    p.add_argument("--index", required=True, help="a built index (copied; left unchanged)")
    p.add_argument("--topics", required=True, help="queries (tsv, BEIR jsonl, TREC)")
    p.add_argument("--qrels", default=None, help="judgments: adds nDCG@10 per format")
    p.add_argument("--work", required=True, help="scratch folder for the copy")
    p.add_argument("--formats", default=",".join(QUANTIZATIONS), help="comma list")
    p.add_argument("--oversample", type=float, default=None, help="default: the setting's")
    p.add_argument("--limit", type=int, default=300, help="queries")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="indexing threads")
    p.add_argument("--output", default=None, help="path stem for .json and .md")
    p.set_defaults(func=cmd_bench_quantization)
