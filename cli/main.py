"""The `lucene-hybrid` command line: index a corpus, search it, serve it, evaluate it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lucene_hybrid.cli import bench, evaluate, training
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import QUANTIZATIONS, Bm25Settings, HnswSettings
from lucene_hybrid.evaluation.formats import read_topics
from lucene_hybrid.evaluation.runfile import write_run
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.indexing.corpus import FORMATS, JsonlFields
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.search.filters import filter_json, parse_filter
from lucene_hybrid.search.hybrid import open_index
from lucene_hybrid.search.types import (
    DEFAULT_ALPHA,
    DEFAULT_FUSION,
    DEFAULT_NORMALIZATION,
    Hit,
    SearchParams,
)

log = logging.getLogger("lucene_hybrid")


# -- argument groups --------------------------------------------------------------------------


def _add_ray_arg(p: argparse.ArgumentParser, help: str) -> None:
    """``--ray [ADDRESS]``: a Ray cluster's address, ``auto`` when given bare."""
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS", help=help)


def _add_encoder_args(p: argparse.ArgumentParser, *, for_search: bool) -> None:
    g = p.add_argument_group("encoder")
    g.add_argument(
        "--encoder",
        default=None,
        help="Hugging Face model name or local path; 'openai:MODEL' for an OpenAI-compatible "
        "API; 'precomputed' for vectors in the corpus. "
        + ("Default: the index's own encoder." if for_search else "Default: all-MiniLM-L6-v2."),
    )
    g.add_argument("--pooling", choices=["mean", "cls", "max"], default=None)
    g.add_argument("--query-prefix", default="", help="e.g. 'query: ' for E5")
    g.add_argument("--passage-prefix", default="", help="e.g. 'passage: ' for E5")
    g.add_argument("--max-length", type=int, default=None, help="max tokens per input")
    g.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "int8"],
        default=None,
        help="local models: auto (fp16 on GPU, fp32 on CPU), bf16, or int8 (CPU). "
        + ("Default: the index's own." if for_search else "Default: auto."),
    )
    g.add_argument("--openai-base-url", default=None, help="any OpenAI-compatible server")
    g.add_argument("--openai-dimensions", type=int, default=None)
    g.add_argument("--dim", type=int, default=None, help="dimension of precomputed vectors")


def _encoder_spec(args: argparse.Namespace) -> EncoderSpec | None:
    if args.encoder is None:
        return None if args.precision is None else EncoderSpec(precision=args.precision)
    name: str = args.encoder
    common = {
        "pooling": args.pooling,
        "query_prefix": args.query_prefix,
        "passage_prefix": args.passage_prefix,
        "max_length": args.max_length,
    }
    if args.precision is not None and (name == "precomputed" or name.startswith("openai:")):
        raise LuceneHybridError("--precision applies to local Hugging Face models only")
    if name == "precomputed":
        return EncoderSpec(kind="precomputed", model="precomputed", dim=args.dim)
    if name.startswith("openai:"):
        return EncoderSpec(
            kind="openai",
            model=name.split(":", 1)[1],
            base_url=args.openai_base_url,
            dimensions=args.openai_dimensions,
            **common,
        )
    return EncoderSpec(kind="hf", model=name, precision=args.precision or "auto", **common)


def _add_search_params(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("search parameters")
    g.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid")
    g.add_argument("--fusion", choices=["rrf", "linear"], default=DEFAULT_FUSION)
    g.add_argument("-k", "--k", type=int, default=10, help="hits per query")
    g.add_argument("--depth", type=int, default=100, help="candidates per retriever (hybrid)")
    g.add_argument("--rrf-k", type=float, default=60.0)
    g.add_argument("--weights", default="1,1", help="RRF weights 'bm25,dense'")
    g.add_argument(
        "--alpha", type=float, default=DEFAULT_ALPHA, help="linear: 0 = BM25 only, 1 = dense only"
    )
    g.add_argument("--normalization", choices=["minmax", "zscore"], default=DEFAULT_NORMALIZATION)
    g.add_argument("--k1", type=float, default=None, help="BM25 k1 (default: the index's, 0.9)")
    g.add_argument("--b", type=float, default=None, help="BM25 b (default: the index's, 0.4)")
    g.add_argument(
        "--ef-search", type=int, default=None, help="HNSW candidate list size (implies hnsw)"
    )
    g.add_argument(
        "--dense-search",
        choices=("auto", "exact", "hnsw"),
        default="auto",
        help="exact: score every vector; hnsw: Lucene's graph; auto: exact up to "
        "exact_max_docs vectors, HNSW above",
    )
    g.add_argument(
        "--filter",
        default=None,
        help='metadata filter as JSON, e.g. \'{"field": "year", "op": "gte", "value": 2020}\'',
    )


def _search_params(args: argparse.Namespace, fetch_docs: bool) -> SearchParams:
    try:
        w_bm25, w_dense = (float(x) for x in args.weights.split(","))
    except ValueError:
        raise LuceneHybridError(
            f"--weights must be two numbers 'bm25,dense', got {args.weights!r}"
        ) from None
    return SearchParams(
        mode=args.mode,
        k=args.k,
        depth=args.depth,
        fusion=args.fusion,
        rrf_k=args.rrf_k,
        weights=(w_bm25, w_dense),
        alpha=args.alpha,
        normalization=args.normalization,
        k1=args.k1,
        b=args.b,
        ef_search=args.ef_search,
        dense_search=args.dense_search,
        fetch_docs=fetch_docs,
        filter=filter_json(parse_filter(args.filter)) if args.filter else None,
    )


# -- commands ---------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    spec = _encoder_spec(args) or EncoderSpec()
    metadata = tuple(args.metadata_fields.split(",")) if args.metadata_fields else None
    opts = BuildOptions(
        corpus=Path(args.corpus),
        index=Path(args.index),
        fmt=args.format,
        fields=JsonlFields(args.id_field, args.text_field, metadata, args.vector_field),
        skip_malformed=args.skip_malformed,
        encoder=spec,
        bm25=Bm25Settings(k1=args.bm25_k1, b=args.bm25_b),
        hnsw=HnswSettings(
            M=args.hnsw_m,
            ef_construction=args.ef_construction,
            quantization="int8" if args.int8 else args.quantization,
            oversample=args.oversample,
        ),
        threads=args.threads,
        batch_size=args.batch_size,
        memory_mb=args.memory_mb,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if args.shards != 1 or args.ray is not None:
        return _index_on_ray(args, opts)
    if args.resume:
        raise LuceneHybridError("--resume continues sharded builds (--shards N, --ray)")
    report = build_index(opts)
    m = report.manifest
    t = m.timings
    n = m.documents
    print(f"indexed {n} documents into {opts.index} ({m.encoder.describe()}, {m.dim} dims)")
    if report.skipped_lines:
        print(
            f"skipped {len(report.skipped_lines)} malformed lines, first: "
            f"line {report.skipped_lines[0][0]}: {report.skipped_lines[0][1]}"
        )
    if m.counts.get("bm25_empty"):
        print(f"{m.counts['bm25_empty']} documents had no text (dense index only)")
    rate = lambda s: f"{n / s:,.0f} docs/s" if s > 0 else "-"  # noqa: E731
    print(
        f"time {t['total_s']:.1f}s: read {t['read_s']:.1f}s ({rate(t['read_s'])}), "
        f"encode {t['encode_s']:.1f}s ({rate(t['encode_s'])}), "
        f"bm25 index {t['bm25_index_s']:.1f}s ({rate(t['bm25_index_s'])}, overlapping encode), "
        f"hnsw index {t['hnsw_index_s']:.1f}s ({rate(t['hnsw_index_s'])})"
        + (f", metadata fields {t['metadata_s']:.1f}s" if "metadata_s" in t else "")
    )
    if args.report:
        from lucene_hybrid.bench import encode as bench_encode
        from lucene_hybrid.bench.common import write

        result = bench_encode.build_report(report, opts.index)
        js, md = write(result, Path(args.report), bench_encode.index_markdown)
        print(f"build report written to {js} and {md}")
    return 0


def _index_on_ray(args: argparse.Namespace, opts: BuildOptions) -> int:
    from lucene_hybrid.cluster.build import CHUNK_LINES, build_sharded
    from lucene_hybrid.core.sharding import SHARD_DIR

    if args.report:
        raise LuceneHybridError(
            "--report describes single-process builds; a sharded build prints its own"
        )
    report = build_sharded(
        opts,
        args.shards,
        address=args.ray,
        resume=args.resume,
        encoders=args.encoders,
        chunk_lines=args.chunk_lines or CHUNK_LINES,
    )
    n = report.documents
    t = report.timings
    spec = report.spec
    print(
        f"indexed {n} documents into {opts.index} as {spec.shards} shards "
        f"({spec.encoder.describe()}, {spec.dim} dims; serve it with `serve --ray`)"
    )
    if report.chunks_resumed or report.shards_resumed:
        print(
            f"resumed: {report.chunks_resumed} of {report.chunks} chunks and "
            f"{report.shards_resumed} of {spec.shards} shards were staged already"
        )
    if report.skipped_lines:
        line, reason = report.skipped_lines[0]
        print(f"skipped {len(report.skipped_lines)} malformed lines, first: line {line}: {reason}")
    rate = lambda s: f"{n / s:,.0f} docs/s" if s > 0 else "-"  # noqa: E731
    print(
        f"time {t['total_s']:.1f}s: plan {t['plan_s']:.1f}s, read+encode {t['encode_s']:.1f}s "
        f"({rate(t['encode_s'])}, {report.encoders} encoder actors), "
        f"index {t['index_s']:.1f}s ({rate(t['index_s'])}, shards side by side)"
    )
    for b in report.shards:
        bt = b.timings
        print(
            f"  {SHARD_DIR.format(b.shard)}: {b.documents} documents, "
            + ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in bt.items())
        )
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Re-encode an index with another model (e.g. one made by `finetune`), or rebuild its HNSW
    half in another vectors format, and switch to it."""
    from lucene_hybrid.core.manifest import read_manifest
    from lucene_hybrid.indexing.reindex import reindex, requantize, requantized

    index = Path(args.index)
    before = read_manifest(index)
    old = before.encoder
    spec: EncoderSpec | None
    if args.encoder is None and args.precision is not None and old.kind == "hf":
        spec = old.model_copy(update={"precision": args.precision})  # same model, new precision
    else:
        spec = _encoder_spec(args)
    new_format = args.quantization is not None or args.oversample is not None
    if spec is None and new_format:
        m = requantize(
            index,
            args.quantization or before.hnsw.quantization,
            oversample=args.oversample,
            threads=args.threads,
            progress=not args.quiet,
        )
        print(
            f"rebuilt the HNSW half of {index} ({m.documents} documents) as "
            f"{m.hnsw.quantization} (oversample {m.hnsw.oversample:g}) in "
            f"{m.timings['total_s']:.1f}s; was {before.hnsw.quantization}"
        )
        return 0
    if spec is None:
        raise LuceneHybridError(
            "reindex needs --encoder MODEL (a model directory or HF name), --precision, "
            "or --quantization"
        )
    # A saved sentence-transformers model carries its pooling; prefixes carry over.
    spec = spec.model_copy(
        update={
            "query_prefix": args.query_prefix or old.query_prefix,
            "passage_prefix": args.passage_prefix or old.passage_prefix,
            "max_length": args.max_length or old.max_length,
        }
    )
    m = reindex(
        index,
        spec,
        hnsw=requantized(before.hnsw, args.quantization, args.oversample),
        batch_size=args.batch_size,
        threads=args.threads,
        progress=not args.quiet,
    )
    t = m.timings
    print(
        f"re-encoded {m.counts['dense']} documents of {index} with {m.encoder.describe()} "
        f"({m.dim} dims) in {t['total_s']:.1f}s (encode {t['encode_s']:.1f}s, hnsw "
        f"{t['hnsw_index_s']:.1f}s); was {old.describe()}"
    )
    return 0


def _print_table(hits: Sequence[Hit]) -> None:
    if not hits:
        print("no hits")
        return
    print(
        f"{'rank':>4}  {'docid':<16} {'score':>9}  {'bm25 (rank score)':>18}  "
        f"{'dense (rank score)':>18}  text"
    )
    for h in hits:
        bm = f"{h.bm25_rank} {h.bm25_score:.3f}" if h.bm25_rank else "-"
        de = f"{h.dense_rank} {h.dense_score:.3f}" if h.dense_rank else "-"
        text = (h.text or "").replace("\n", " ")
        text = text[:70] + "…" if len(text) > 70 else text
        print(f"{h.rank:>4}  {h.docid[:16]:<16} {h.score:>9.4f}  {bm:>18}  {de:>18}  {text}")


def cmd_search(args: argparse.Namespace) -> int:
    if bool(args.query) == bool(args.topics):
        raise LuceneHybridError("give either a query text or --topics FILE (with --output RUN)")
    if args.topics and not args.output:
        raise LuceneHybridError("--topics needs --output RUN.trec")
    params = _search_params(args, fetch_docs=not args.topics)
    searcher = open_index(args.index, _encoder_spec(args), load_query_encoder=params.mode != "bm25")
    try:
        if args.query:
            hits = searcher.search(args.query, params)
            if args.json:
                print(json.dumps([h.__dict__ for h in hits], indent=2, ensure_ascii=False))
            else:
                _print_table(hits)
            return 0
        topics = read_topics(args.topics)
        start = time.perf_counter()
        results = searcher.batch_search(list(topics.values()), params, threads=args.threads)
        elapsed = time.perf_counter() - start
        tag = args.tag or f"lucene-hybrid-{params.mode}" + (
            f"-{params.fusion}" if params.mode == "hybrid" else ""
        )
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w") as fh:
            write_run(fh, dict(zip(topics, results, strict=True)), tag)
        os.replace(tmp, out)
        print(
            f"{len(topics)} queries, {params.mode} mode, k={params.k}: {elapsed:.1f}s "
            f"({len(topics) / elapsed:.1f} q/s) -> {out}"
        )
        return 0
    finally:
        searcher.close()


DEMO_QUERIES = (
    "how does lucene do vector search",
    "which star pulls the sea up and down",
    "combining keyword and embedding results",
)


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the bundled demo collection once, then search it in hybrid mode."""
    from lucene_hybrid.server import DEMO_CORPUS

    index = Path(args.data_dir) / "demo"
    if not index.exists():
        print(f"building the demo index from {DEMO_CORPUS.name} into {index} ...")
        build_index(BuildOptions(corpus=DEMO_CORPUS, index=index, progress=False))
    searcher = open_index(index)
    try:
        for query in args.queries or DEMO_QUERIES:
            fusion = f"{DEFAULT_NORMALIZATION} {DEFAULT_FUSION}, alpha {DEFAULT_ALPHA}"
            print(f"\nquery: {query}  (hybrid: {fusion})")
            _print_table(searcher.search(query, SearchParams(k=args.k)))
    finally:
        searcher.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the REST server; collections commit and close on SIGINT/SIGTERM."""
    from lucene_hybrid.server import load_settings, serve

    collections = {}
    for item in args.collection:
        name, sep, path = item.partition("=")
        if not sep:
            raise LuceneHybridError(f"--collection takes NAME=DIR, got {item!r}")
        collections[name] = path
    overrides = {"data_dir": args.data_dir, "host": args.host, "port": args.port}
    if args.jvm_heap:
        overrides["jvm_heap"] = args.jvm_heap
    settings = load_settings(args.config, **overrides)
    if collections:
        settings = settings.model_copy(
            update={"collections": {**settings.collections, **collections}}
        )
    if args.ray is not None:
        cluster = settings.cluster.model_copy(update={"ray_address": args.ray})
        settings = settings.model_copy(update={"cluster": cluster})
    sharding = None
    c = settings.cluster
    if c.ray_address:
        from lucene_hybrid.cluster import RaySharding

        sharding = RaySharding.connect(
            c.ray_address,
            heap=c.shard_heap,
            timeout_s=c.shard_timeout_s,
            commit_interval_s=settings.commit_interval_s,
        )
    url = f"http://{settings.host}:{settings.port}"
    where = f", shards on Ray at {settings.cluster.ray_address}" if sharding else ""
    print(f"lucene-hybrid serving on {url} (data: {settings.data_dir}{where})")
    serve(settings, sharding)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lucene-hybrid", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--jvm-heap", default=None, help="JVM max heap, e.g. 2g (default 4g)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build BM25 + HNSW indexes of a corpus")
    p.add_argument("corpus", help="corpus file (.tsv, .jsonl, optionally .gz)")
    p.add_argument("--index", required=True, help="index directory to create")
    p.add_argument(
        "--report", default=None, help="write stage timings, size and peak memory (.json, .md)"
    )
    p.add_argument("--format", choices=FORMATS, default=None, help="default: detected")
    p.add_argument("--id-field", default="id", help="generic jsonl: id field")
    p.add_argument("--text-field", default="text", help="generic jsonl: text field")
    p.add_argument(
        "--metadata-fields", default=None, help="generic jsonl: comma list (default: all others)"
    )
    p.add_argument("--vector-field", default=None, help="generic jsonl: precomputed vector field")
    p.add_argument(
        "--skip-malformed",
        action="store_true",
        help="skip and count malformed lines (a repeated id: the first line stays)",
    )
    _add_encoder_args(p, for_search=False)
    p.add_argument("--hnsw-m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        default=HnswSettings().quantization,
        help="how HNSW stores vectors: none (float32), int8/int7/int4 (scalar quantization), "
        "bbq (1 bit per dimension); see docs/indexing.md",
    )
    p.add_argument(
        "--oversample",
        type=float,
        default=HnswSettings().oversample,
        help="quantized formats: rescore k x this many candidates with the float32 vectors",
    )
    p.add_argument("--int8", action="store_true", help="the same as --quantization int8")
    p.add_argument("--bm25-k1", type=float, default=0.9, help="default k1 stored in the manifest")
    p.add_argument("--bm25-b", type=float, default=0.4, help="default b stored in the manifest")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--batch-size", type=int, default=None, help="encoder batch size (CPU 32, GPU 512)"
    )
    p.add_argument("--memory-mb", type=int, default=512, help="Lucene RAM buffer per indexer")
    p.add_argument("--overwrite", action="store_true", help="replace an existing index")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        help="build a sharded collection of this many shards on Ray (served by serve --ray)",
    )
    _add_ray_arg(
        p,
        "build on the Ray cluster at ADDRESS (default: auto, the one running here); with "
        "--shards above 1 and no --ray, a Ray is started for the build",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="sharded builds: continue an interrupted build (staged chunks are not encoded again)",
    )
    p.add_argument(
        "--encoders",
        type=int,
        default=None,
        help="sharded builds: encoder actors (default: one per GPU, else one per node)",
    )
    p.add_argument(
        "--chunk-lines",
        type=int,
        default=None,
        help="sharded builds: corpus lines per chunk, the unit of encoding and of --resume",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search an index: one query, or a topic file to a run file")
    p.add_argument("query", nargs="?", default=None, help="query text")
    p.add_argument("--index", required=True)
    p.add_argument(
        "--topics", default=None, help="qid<TAB>text tsv, BEIR queries.jsonl (.gz ok), TREC topics"
    )
    p.add_argument("--output", default=None, help="TREC run file to write")
    p.add_argument("--tag", default=None, help="run tag (6th column)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    _add_search_params(p)
    _add_encoder_args(p, for_search=True)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("serve", help="run the REST server (default: the demo collection)")
    p.add_argument(
        "--config", default=None, help="YAML settings (default: the packaged configs/server.yaml)"
    )
    p.add_argument("--data-dir", default=None, help="where collections live")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="serve an index built by `lucene-hybrid index` (repeatable)",
    )
    _add_ray_arg(
        p,
        "serve sharded collections on a Ray cluster (default address: auto, the cluster "
        "running here); needs the cluster extra",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "reindex",
        help="re-encode an index with another encoder, or rebuild its HNSW half in another "
        "vectors format, and switch to it atomically",
    )
    p.add_argument("--index", required=True, help="index directory (not being served)")
    _add_encoder_args(p, for_search=False)
    p.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        default=None,
        help="rebuild the HNSW half in this vectors format (from the stored vectors, "
        "no encoding, unless --encoder or --precision is given too)",
    )
    p.add_argument("--oversample", type=float, default=None, help="quantized formats' rescoring")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--batch-size", type=int, default=None, help="encoder batch size (CPU 32, GPU 512)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reindex)

    evaluate.add_parsers(sub)
    bench.add_parsers(sub)
    training.add_parsers(sub)

    p = sub.add_parser("demo", help="index the bundled demo corpus (once) and search it")
    p.add_argument("queries", nargs="*", help="queries to run (default: three samples)")
    p.add_argument("--data-dir", default="lucene-hybrid-data", help="where the demo index lives")
    p.add_argument("-k", type=int, default=5)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lucene-hybrid` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.jvm_heap:
        os.environ["LUCENE_HYBRID_JVM_HEAP"] = args.jvm_heap
    try:
        return int(args.func(args))
    except (LuceneHybridError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
