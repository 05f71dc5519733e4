"""Write-path benchmarks: the encoder's raw forward beside the encoding pipeline, per precision,
and an index build's documents per second per stage (``index --report``).

The raw forward is the model alone on batches tokenized beforehand (length-sorted, as the
pipeline sorts them): the ceiling the pipeline can reach. The pipeline is what ``index``
runs: ``encode_documents`` (tokenization, forward, pooling, normalization, copies). Their ratio
says how much of the model's speed the pipeline keeps. Each precision is also compared with
fp32 by the cosine of its vectors to fp32's (1.0 = identical); retrieval quality per
precision is measured by indexing with ``--precision`` and evaluating (README).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.indexing.build import BuildReport
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder

from .bench import folder_mb, machine, peak_rss_mb


@dataclass
class EncodeRow:
    """One precision: forward-only and pipeline throughput, and agreement with fp32."""

    precision: str
    device: str
    documents: int
    forward_docs_s: float
    pipeline_docs_s: float
    pipeline_share: float  # pipeline / forward
    cosine_to_fp32: float | None  # mean over documents; None for fp32 itself


def forward_docs_per_s(encoder: HuggingFaceEncoder, texts: Sequence[str]) -> float:
    """Documents/s of the model alone (tokenized beforehand, length-sorted batches)."""
    import torch

    model = encoder.model
    prefix = encoder.spec.passage_prefix
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    size = encoder.batch_size
    batches = []
    for start in range(0, len(order), size):
        chunk = [prefix + texts[i] for i in order[start : start + size]]
        features = model.tokenize(chunk)
        batches.append(
            {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
        )
    with torch.inference_mode(), encoder._autocast():  # noqa: SLF001 - the encoder's precision
        model(batches[0])  # warm-up
        if encoder.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for features in batches:
            model(features)
        if encoder.device.startswith("cuda"):
            torch.cuda.synchronize()
    return len(texts) / (time.perf_counter() - t0)


def encode(
    texts: Sequence[str],
    *,
    model: str,
    precisions: Sequence[str] = ("fp32", "bf16", "int8"),
    batch_size: int = 32,
    device: str | None = None,
    max_length: int | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Forward and pipeline throughput for each precision over the same texts."""
    rows = []
    reference: np.ndarray | None = None
    for precision in precisions:
        spec = EncoderSpec(model=model, precision=precision, max_length=max_length)  # type: ignore[arg-type]
        encoder = HuggingFaceEncoder(spec, batch_size=batch_size, device=device)
        encoder.encode_documents(list(texts[:batch_size]))  # warm-up
        forward = forward_docs_per_s(encoder, texts)
        t0 = time.perf_counter()
        vectors = encoder.encode_documents(list(texts))
        pipeline = len(texts) / (time.perf_counter() - t0)
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
                forward_docs_s=round(forward, 1),
                pipeline_docs_s=round(pipeline, 1),
                pipeline_share=round(pipeline / forward, 3),
                cosine_to_fp32=cosine,
            )
        )
    return {
        "label": label,
        "model": model,
        "batch_size": batch_size,
        "max_length": max_length,
        "machine": machine(),
        "rows": [asdict(r) for r in rows],
    }


def encode_markdown(result: dict[str, Any]) -> str:
    """The encode rows as a Markdown table."""
    lines = [
        f"{result['label']}: {result['model']}, batch {result['batch_size']}; "
        f"{result['machine']['cpus']} × {result['machine']['cpu']}",
        "",
        "| precision | device | docs | forward docs/s | pipeline docs/s | pipeline/forward "
        "| cosine to fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        cos = "—" if r["cosine_to_fp32"] is None else f"{r['cosine_to_fp32']:.4f}"
        lines.append(
            f"| {r['precision']} | {r['device']} | {r['documents']:,} | "
            f"{r['forward_docs_s']:,.1f} | {r['pipeline_docs_s']:,.1f} | "
            f"{r['pipeline_share']:.0%} | {cos} |"
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
    return "\n".join(lines) + "\n"
