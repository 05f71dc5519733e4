"""The spec that names an encoder in configs, requests and manifests: data, no model code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class EncoderSpec(BaseModel):
    """Everything needed to rebuild the same encoder at query time; stored in manifest.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["hf", "openai", "precomputed"] = "hf"
    model: str = DEFAULT_MODEL
    dim: int | None = Field(default=None, gt=0, description="Required for precomputed vectors.")
    pooling: Literal["mean", "cls", "max"] | None = Field(
        default=None, description="None: the model's own sentence-transformers pooling config."
    )
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    max_length: int | None = Field(default=None, gt=0)
    precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        default="auto",
        description="Local models: auto is fp16 on a GPU and fp32 on a CPU; bf16 autocasts "
        "(fast on GPUs and on CPUs with AMX); int8 is dynamic quantization of the linear "
        "layers (CPU only).",
    )
    # OpenAI-compatible services only.
    base_url: str | None = None
    dimensions: int | None = Field(default=None, gt=0)

    def describe(self) -> str:
        """A short human-readable name, e.g. ``hf:sentence-transformers/all-MiniLM-L6-v2``."""
        return "precomputed" if self.kind == "precomputed" else f"{self.kind}:{self.model}"
