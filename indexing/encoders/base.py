"""The encoder protocol, and the row normalization every encoder applies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from lucene_hybrid.core.encoder_spec import EncoderSpec


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into float32 vectors of shape (n, dim), L2-normalized when spec says so."""

    spec: EncoderSpec

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


# Norms outside this range may have lost their squares to float32 overflow (a row of 1e38s: its
# norm is inf, and the row would become zeros) or underflow (a row of 1e-30s: norm 0).
_SAFE_NORMS = (1e-18, 1e18)


def _norms(vectors: np.ndarray) -> np.ndarray:
    # einsum, not linalg.norm: faster on small inputs, and it warns of no overflow (caught below)
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]


def unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``l2_normalize``'s rows and, per row, a norm that is 0 exactly where the row is zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = _norms(vectors)
    low, high = _SAFE_NORMS
    if vectors.size and low < norms.min() and norms.max() < high:
        return vectors / norms, norms
    # Zero rows, or squares that overflowed or underflowed: rare, and cheap to redo.
    peaks = np.abs(vectors).max(axis=1, keepdims=True, initial=0.0)
    peaks[peaks == 0] = 1.0
    vectors = vectors / peaks
    norms = _norms(vectors)
    safe = norms.copy()
    safe[safe == 0] = 1.0
    return vectors / safe, norms


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalization in float32; zero rows stay zero. Rows whose squares would
    overflow or underflow float32 are first divided by their largest magnitude (the direction
    is the same), so every non-zero row comes out of unit length."""
    return unit_rows(vectors)[0]
