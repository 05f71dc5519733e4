"""Encoders behind one protocol: local HF models, OpenAI-compatible APIs, precomputed vectors."""

from __future__ import annotations

from lucene_hybrid.core.encoder_spec import DEFAULT_MODEL, EncoderSpec
from lucene_hybrid.indexing.encoders.base import Encoder, l2_normalize
from lucene_hybrid.indexing.encoders.precomputed import PrecomputedEncoder, check_vectors

__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "EncoderSpec",
    "PrecomputedEncoder",
    "check_vectors",
    "l2_normalize",
    "load_encoder",
]


def load_encoder(spec: EncoderSpec, **kwargs: object) -> Encoder:
    """Build the encoder a spec names; heavy libraries are imported only here.

    Raises:
        EncoderError: when the model cannot be loaded or a key is missing.
    """
    if spec.kind == "precomputed":
        return PrecomputedEncoder(spec)
    if spec.kind == "openai":
        from lucene_hybrid.indexing.encoders.openai_api import OpenAIEncoder

        return OpenAIEncoder(spec, **kwargs)  # type: ignore[arg-type]
    from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder

    return HuggingFaceEncoder(spec, **kwargs)  # type: ignore[arg-type]
