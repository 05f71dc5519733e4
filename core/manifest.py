"""manifest.json: what an index directory holds, how it was built, and what may query it."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lucene_hybrid.core.encoder_spec import EncoderSpec
from lucene_hybrid.core.errors import ManifestError

MANIFEST = "manifest.json"
BM25_DIR = "bm25"
HNSW_DIR = "hnsw"
WAL_FILE = "wal.jsonl"  # a live collection's write-ahead log (see server.collection)
FORMAT_VERSION = 1
# Lucene's HNSW vector formats a collection may use (see HnswSettings.quantization).
Quantization = Literal["none", "int8", "int7", "int4", "bbq"]
QUANTIZATIONS: tuple[str, ...] = ("none", "int8", "int7", "int4", "bbq")
DEFAULT_OVERSAMPLE = 3.0
ANALYZER = "Anserini DefaultEnglishAnalyzer (Porter stemmer, Lucene English stopwords)"


# Lucene's BM25Similarity takes k1 as a 32-bit float and refuses infinity, which any larger
# value would become.
MAX_K1 = 3.4028234663852886e38


class Bm25Settings(BaseModel):
    """BM25 defaults for searches that do not give their own k1/b (Anserini: 0.9 / 0.4)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    field: str = "contents"
    analyzer: str = ANALYZER
    k1: float = Field(default=0.9, ge=0)
    b: float = Field(default=0.4, ge=0, le=1)

    @field_validator("k1")
    @classmethod
    def _k1_fits_lucene(cls, k1: float) -> float:
        if k1 > MAX_K1:
            raise ValueError(f"k1 must be at most {MAX_K1:.7g}: Lucene takes a 32-bit float")
        return k1


class HnswSettings(BaseModel):
    """HNSW graph parameters of Lucene's KNN vectors format."""

    model_config = ConfigDict(extra="forbid")

    field: str = "vector"
    M: int = Field(default=16, ge=2, le=512)
    ef_construction: int = Field(default=100, ge=1, le=3200)
    quantization: Quantization = Field(
        default="none",
        description="How Lucene stores the vectors the graph is searched with: none (float32), "
        "int8 / int7 / int4 (scalar quantization at 8, 7 or 4 bits per dimension) or bbq (one "
        "bit per dimension, queries at 4 bits). Quantized formats keep the float32 vectors too "
        "and rescore with them.",
    )
    oversample: float = Field(
        default=DEFAULT_OVERSAMPLE,
        ge=1,
        le=100,
        description="Quantized formats: the graph's best k x oversample candidates are rescored "
        "with the float32 vectors, and the best k returned. Ignored without quantization.",
    )
    similarity: str = "dot_product"
    vectors_normalized: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_quantize_int8(cls, data: Any) -> Any:
        """Manifests written before quantization had names said ``quantize_int8: bool``."""
        if isinstance(data, dict) and "quantize_int8" in data:
            data = dict(data)
            int8 = data.pop("quantize_int8")
            data.setdefault("quantization", "int8" if int8 else "none")
        return data

    def rescore_depth(self, k: int) -> int:
        """Candidates to rescore with float32 vectors for a top-k (0: the scores are exact)."""
        return 0 if self.quantization == "none" else math.ceil(k * self.oversample)


class Manifest(BaseModel):
    """The self-description of an index directory."""

    model_config = ConfigDict(extra="allow")

    format_version: int = FORMAT_VERSION
    name: str
    created_at: str
    encoder: EncoderSpec
    dim: int
    bm25: Bm25Settings = Bm25Settings()
    hnsw: HnswSettings = HnswSettings()
    documents: int = 0
    counts: dict[str, int] = {}
    corpus: dict[str, Any] = {}
    versions: dict[str, str] = {}
    timings: dict[str, float] = {}

    def check_encoder(self, spec: EncoderSpec, dim: int | None = None) -> None:
        """Refuse a query encoder that does not match the one the index was built with.

        Raises:
            ManifestError: naming both encoders and what to do.
        """
        built = self.encoder
        same = (
            built.kind == spec.kind
            and built.model == spec.model
            and built.pooling == spec.pooling
            and built.base_url == spec.base_url
            and built.dimensions == spec.dimensions
        )
        if built.kind == "precomputed" and spec.kind != "precomputed":
            same = dim == self.dim  # any model of the right dimension may embed queries
        if not same or (dim is not None and dim != self.dim):
            raise ManifestError(
                f"index '{self.name}' was built with encoder {built.describe()} "
                f"({self.dim} dims) but the query encoder is {spec.describe()}"
                f"{f' ({dim} dims)' if dim else ''}: drop the --encoder option to use the "
                "index's own encoder, or rebuild the index with the new encoder"
            )


def read_manifest(index_dir: str | Path) -> Manifest:
    """Load and validate ``index_dir/manifest.json``.

    Raises:
        ManifestError: when the directory is not a lucene-hybrid index.
    """
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        raise ManifestError(
            f"{index_dir} is not a lucene-hybrid index (no {MANIFEST}); build one with "
            "`lucene-hybrid index CORPUS --index DIR`"
        )
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ManifestError(f"{path} is damaged ({exc}); rebuild the index") from exc
    if manifest.format_version > FORMAT_VERSION:
        raise ManifestError(
            f"{path} has format {manifest.format_version}, newer than this lucene-hybrid "
            f"understands ({FORMAT_VERSION}); upgrade lucene-hybrid"
        )
    return manifest


def write_manifest(index_dir: str | Path, manifest: Manifest) -> None:
    """Write the manifest atomically (temp file, fsync, rename)."""
    path = Path(index_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as fh:
        fh.write(manifest.model_dump_json(indent=2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
