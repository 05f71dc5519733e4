"""Write-path benchmarks: the encoder's raw forward beside the encoding pipeline, per precision,
and an index build's documents per second per stage (``index --report``).

The raw forward is the model alone on batches tokenized and moved to the device beforehand
(length-sorted over the whole input: the least padding): the ceiling the pipeline can reach.
The pipeline is what ``index`` runs: ``encode_documents`` (tokenization ahead in a thread, and
on a GPU in processes; forward, pooling, normalization, copies back). Their ratio says how
much of the model's speed the pipeline keeps; sentence-transformers' own ``encode()`` is timed
beside them. Each precision is also compared with fp32 by the cosine of its vectors to fp32's
(1.0 = identical); retrieval quality per precision is measured by indexing with
``--precision`` and evaluating (docs/benchmarks.md).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.bench.common import folder_mb, machine, peak_rss_mb
from lucene_hybrid.indexing import build
from lucene_hybrid.indexing.build import BuildReport
from lucene_hybrid.indexing.corpus import Document
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec, stream
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder


@dataclass
class EncodeRow:
    """One precision: forward-only and pipeline throughput, and agreement with fp32."""

    precision: str
    device: str
    documents: int
    tokenize_docs_s: float | None  # the pipeline's tokenizer alone (None: no fast tokenizer)
    forward_docs_s: float
    pipeline_docs_s: float
    pipeline_share: float  # pipeline / forward
    # The pipeline's time, as shares: waiting for the tokenizer, launching, finishing, other
    # (stream.Clock); None without a fast tokenizer.
    pipeline_split: dict[str, float] | None
    st_encode_docs_s: float | None  # sentence-transformers' encode(), for comparison
    cosine_to_fp32: float | None  # mean over documents; None for fp32 itself


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def forward_docs_per_s(
    encoder: HuggingFaceEncoder, texts: Sequence[str], *, own_batches: bool = False
) -> float:
    """Documents/s of the model alone: batches tokenized, length-sorted over the whole input
    (the least padding) and moved to the device beforehand. With ``own_batches``, the batches
    the pipeline runs instead (its windows pad more): the forward over them against the
    global sort's is padding's cost, and the pipeline against them everything else."""
    import torch

    model = encoder.model
    inputs = [encoder.spec.passage_prefix + t for t in texts]
    size = encoder.batch_size
    tok = encoder.fast_tokenizer
    batches: list[dict[str, Any]] = []
    on_gpu = encoder.device.startswith("cuda")
    if tok is not None:
        multiple = stream.GPU_MULTIPLE if on_gpu else 1
        planned = (
            stream.pipeline_batches(tok, inputs, size, gpu=on_gpu)
            if own_batches
            else stream.token_batches(
                tok, inputs, size, window=len(inputs), ramp=False, multiple=multiple
            )
        )
        batches = [stream.features(tok, batch, encoder.device) for batch in planned]
    else:
        order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
        prepare = getattr(model, "preprocess", None) or model.tokenize
        for start in range(0, len(order), size):
            features = prepare([inputs[i] for i in order[start : start + size]])
            batches.append(
                {k: v.to(encoder.device) if hasattr(v, "to") else v for k, v in features.items()}
            )
    model.eval()
    with torch.inference_mode(), encoder._autocast():  # noqa: SLF001 - the encoder's precision
        # Warm-up: on a GPU every batch (each shape's first run plans its kernels), else one.
        for features in batches if on_gpu else batches[:1]:
            stream.forward(model, features, encoder.mask_4d)
        _sync(encoder.device)
        t0 = time.perf_counter()
        for features in batches:
            stream.forward(model, features, encoder.mask_4d)
        _sync(encoder.device)
    return len(texts) / (time.perf_counter() - t0)


def tokenize_docs_per_s(encoder: HuggingFaceEncoder, texts: Sequence[str]) -> float | None:
    """Documents/s of the pipeline's tokenizing producer alone: the batches ``encode`` runs
    on this device (its windows, length order and padding), unpinned."""
    tok = encoder.fast_tokenizer
    if tok is None:
        return None
    inputs = [encoder.spec.passage_prefix + t for t in texts]
    gpu = encoder.device.startswith("cuda")
    t0 = time.perf_counter()
    for _ in stream.pipeline_batches(tok, inputs, encoder.batch_size, gpu=gpu):
        pass
    return len(texts) / (time.perf_counter() - t0)


def pipeline_docs_per_s(
    encoder: HuggingFaceEncoder, texts: Sequence[str]
) -> tuple[float, dict[str, float] | None, np.ndarray]:
    """Documents/s of ``encode_documents`` (what ``index`` runs) over ``texts`` in one call,
    where its time went (``stream.Clock.shares``; None without a fast tokenizer), and the
    vectors."""
    with stream.clocked(encoder, stream.Clock()) as clock:
        t0 = time.perf_counter()
        vectors = encoder.encode_documents(list(texts))
        wall = time.perf_counter() - t0
    return len(texts) / wall, clock.shares(wall), vectors


def st_encode_docs_per_s(encoder: HuggingFaceEncoder, texts: Sequence[str]) -> float:
    """Documents/s of sentence-transformers' own ``encode()`` (same model, batch size)."""
    inputs = [encoder.spec.passage_prefix + t for t in texts]
    with encoder._autocast():  # noqa: SLF001 - the encoder's precision
        t0 = time.perf_counter()
        encoder.model.encode(inputs, batch_size=encoder.batch_size, show_progress_bar=False)
        _sync(encoder.device)
    return len(texts) / (time.perf_counter() - t0)


def index_stage(encoder: Encoder, texts: Sequence[str], copies: int = 1) -> dict[str, Any]:
    """An index build's encode stage over ``texts``, ``copies`` times over, as ``index`` runs
    it: staged into JsonCollection shards first (untimed), then read back by Arrow ahead of the
    encoder, encoded in its calls, and written to Parquet behind it (``build.encode_staged``).

    Returns ``documents``, ``docs_s`` and, for a local model, ``split``: its ``stream.Clock``
    as shares of the stage's time, whose ``other`` is the time outside its calls (the read-ahead
    and the writer not keeping up, the first read and the last write).
    """
    docs = (Document(str(i), t) for i, t in enumerate(t for _ in range(copies) for t in texts))
    with tempfile.TemporaryDirectory(prefix="index-stage-") as tmp:
        staging = Path(tmp)
        opts = build.BuildOptions(corpus=staging, index=staging / "index", progress=False)
        n, _, longest = build.stage_documents(docs, staging, opts, dim=None)
        with stream.clocked(encoder, stream.Clock()) as clock:
            t0 = time.perf_counter()
            build.encode_staged(staging, encoder, n, longest)
            wall = time.perf_counter() - t0
    return {
        "documents": n,
        "docs_s": round(n / wall, 1),
        "split": clock.shares(wall),
    }


def encode(
    texts: Sequence[str],
    *,
    model: str,
    precisions: Sequence[str] = ("fp32", "bf16", "int8"),
    batch_size: int | None = None,
    device: str | None = None,
    max_length: int | None = None,
    label: str = "",
    compare_st: bool = True,
    tokenize_workers: int | None = None,
    native_tokenizer: bool = True,
) -> dict[str, Any]:
    """Forward and pipeline throughput for each precision over the same texts (and, with
    ``compare_st``, sentence-transformers' ``encode()`` beside them)."""
    rows = []
    reference: np.ndarray | None = None
    used_batch, workers, tokenizer = batch_size, 0, "sentence-transformers"
    for precision in precisions:
        spec = EncoderSpec(model=model, precision=precision, max_length=max_length)  # type: ignore[arg-type]
        encoder = HuggingFaceEncoder(
            spec,
            batch_size=batch_size,
            device=device,
            tokenize_workers=tokenize_workers,
            native_tokenizer=native_tokenizer,
        )
        used_batch = encoder.batch_size
        fast = encoder.fast_tokenizer
        workers = fast.workers if fast else 0
        if fast is not None:
            tokenizer = "nanotoken" if fast.native is not None else "tokenizers"
        # Warm-up: on a GPU the whole input (each new batch shape's first run plans its
        # kernels, a one-time cost a long build amortizes), else four batches (two windows:
        # enough to start the tokenizing processes, if any).
        on_gpu = encoder.device.startswith("cuda")
        encoder.encode_documents(list(texts if on_gpu else texts[: 4 * encoder.batch_size]))
        tokenize = tokenize_docs_per_s(encoder, texts)
        forward = forward_docs_per_s(encoder, texts)
        pipeline, split, vectors = pipeline_docs_per_s(encoder, texts)
        st = st_encode_docs_per_s(encoder, texts) if compare_st else None
        cosine = None
        if precision == "fp32":
            reference = vectors
        elif reference is not None:
            cosine = round(float(np.mean(np.sum(vectors * reference, axis=1))), 5)
        rows.append(
            EncodeRow(
                precision=precision,
                device=encoder.device,
                documents=len(texts),
                tokenize_docs_s=None if tokenize is None else round(tokenize, 1),
                forward_docs_s=round(forward, 1),
                pipeline_docs_s=round(pipeline, 1),
                pipeline_share=round(pipeline / forward, 3),
                pipeline_split=split,
                st_encode_docs_s=None if st is None else round(st, 1),
                cosine_to_fp32=cosine,
            )
        )
        if encoder.fast_tokenizer is not None:
            encoder.fast_tokenizer.close()
        del encoder
    return {
        "label": label,
        "model": model,
        "batch_size": used_batch,
        "max_length": max_length,
        "tokenizer": tokenizer,
        "tokenize_workers": workers,
        "machine": machine(),
        "rows": [asdict(r) for r in rows],
    }


SPLIT_PARTS = " / ".join(stream.Clock.PARTS)  # how a split is headed in the tables


def _split_cell(shares: dict[str, float] | None) -> str:
    """A ``stream.Clock`` split as percentages in ``SPLIT_PARTS``' order, or a dash."""
    if not shares:
        return "—"
    return " / ".join(f"{100 * shares[k]:.0f}" for k in stream.Clock.PARTS)


def encode_markdown(result: dict[str, Any]) -> str:
    """The encode rows as a Markdown table."""
    lines = [
        f"{result['label']}: {result['model']}, batch {result['batch_size']}, "
        f"tokenizer {result.get('tokenizer', 'tokenizers')}, "
        f"{result.get('tokenize_workers', 0)} tokenizing processes; "
        f"{result['machine']['cpus']} × {result['machine']['cpu']}",
        "",
        "| precision | device | docs | tokenize docs/s | forward docs/s | pipeline docs/s "
        f"| pipeline/forward | pipeline time % {SPLIT_PARTS} "
        "| sentence-transformers encode() docs/s | cosine to fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:,.1f}"

    for r in result["rows"]:
        cos = "—" if r["cosine_to_fp32"] is None else f"{r['cosine_to_fp32']:.4f}"
        lines.append(
            f"| {r['precision']} | {r['device']} | {r['documents']:,} | "
            f"{rate(r['tokenize_docs_s'])} | {r['forward_docs_s']:,.1f} | "
            f"{r['pipeline_docs_s']:,.1f} | {r['pipeline_share']:.0%} | "
            f"{_split_cell(r.get('pipeline_split'))} | "
            f"{rate(r['st_encode_docs_s'])} | {cos} |"
        )
    return "\n".join(lines) + "\n"


def build_report(report: BuildReport, index_dir: Path, label: str = "") -> dict[str, Any]:
    """An index build as a benchmark result: documents/s per stage, size, peak memory."""
    m = report.manifest
    n = m.documents
    stages = {
        name.removesuffix("_s"): {"seconds": s, "docs_s": round(n / s, 1) if s else None}
        for name, s in m.timings.items()
    }
    return {
        "label": label or index_dir.name,
        "documents": n,
        "encoder": m.encoder.describe(),
        "precision": m.encoder.precision,
        "stages": stages,
        "encode_split": report.encode_split,
        "index_mb": folder_mb(index_dir),
        "peak_rss_mb": peak_rss_mb(),
        "machine": machine(),
    }


def index_markdown(result: dict[str, Any]) -> str:
    """The build stages as a Markdown table."""
    lines = [
        f"{result['label']}: {result['documents']:,} documents, {result['encoder']} "
        f"({result['precision']}); index "
        f"{result['index_mb']:,.1f} MB; peak RSS {result['peak_rss_mb']:,.0f} MB; "
        f"{result['machine']['cpus']} × {result['machine']['cpu']}",
        "",
        "| stage | seconds | docs/s |",
        "|---|---|---|",
    ]
    for name, st in result["stages"].items():
        rate = "—" if st["docs_s"] is None else f"{st['docs_s']:,.1f}"
        lines.append(f"| {name} | {st['seconds']:.2f} | {rate} |")
    if result.get("encode_split"):
        split = _split_cell(result["encode_split"])
        lines += ["", f"encode stage time % {SPLIT_PARTS}: {split}"]
    return "\n".join(lines) + "\n"
