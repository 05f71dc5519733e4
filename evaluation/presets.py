"""Evaluation presets (configs/eval/*.yaml): a name instead of ten flags."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.resources import config_path

PRESET_DIR = config_path("eval")
# A checkout's ../shared/data; an installed package has none: set LUCENE_HYBRID_EVAL_DATA.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Preset(BaseModel):
    """Where a benchmark's files are and how to score it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    corpus: str | None = None
    topics: str
    qrels: str
    tune_topics: str | None = None
    tune_qrels: str | None = None
    relevance_level: int = Field(default=1, ge=1)
    metrics: list[str] = Field(default_factory=lambda: ["nDCG@10", "R@100", "R@1000"])


def data_root() -> Path:
    """``LUCENE_HYBRID_EVAL_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("LUCENE_HYBRID_EVAL_DATA", DEFAULT_DATA))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> Preset:
    """Load a preset by name, with ``{data}`` replaced by :func:`data_root`.

    Raises:
        LuceneHybridError: on an unknown or invalid preset.
    """
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise LuceneHybridError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    raw = path.read_text().replace("{data}", str(data_root()))
    try:
        return Preset.model_validate(yaml.safe_load(raw))
    except ValidationError as exc:
        raise LuceneHybridError(f"{path} is invalid: {exc}") from exc
