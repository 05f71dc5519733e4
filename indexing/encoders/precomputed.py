"""An encoder for vectors the caller supplies: it validates them and encodes nothing itself."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucene_hybrid.core.errors import EncoderError
from lucene_hybrid.indexing.encoders.base import EncoderSpec, unit_rows


class PrecomputedEncoder:
    """Stands in for a model when every document and query comes with its own vector."""

    def __init__(self, spec: EncoderSpec):
        if spec.dim is None:
            raise EncoderError("precomputed vectors need their dimension: pass --dim N")
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.model if self.spec.model else "precomputed"

    @property
    def dim(self) -> int:
        assert self.spec.dim is not None
        return self.spec.dim

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise EncoderError(
            "this index takes precomputed vectors: every document needs a 'vector' field"
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise EncoderError(
            "this index was built from precomputed vectors and has no query encoder: "
            "pass a query vector, or search with --encoder naming the model that made them"
        )

    def check(self, vectors: np.ndarray) -> np.ndarray:
        """Validate caller vectors (shape, finiteness) and normalize them when the spec says so.

        Raises:
            EncoderError: on a wrong dimension, NaN or infinity.
        """
        return check_vectors(vectors, self.dim, self.spec.normalize)


def check_vectors(vectors: np.ndarray, dim: int, normalize: bool = True) -> np.ndarray:
    """Validate vectors of shape (n, dim) and return them as float32, normalized if asked.

    Raises:
        EncoderError: on a wrong dimension, NaN, infinity, or an all-zero vector.
    """
    given = np.asarray(vectors)
    if (
        given.dtype == np.float32
        and given.ndim == 2
        and given.shape[1] == dim
        and np.isfinite(given).all()
    ):
        out = given  # the common case (an encoder's rows): float32 cannot overflow float32
    else:
        arr = np.asarray(vectors, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != dim:
            got = arr.shape[-1] if arr.ndim else 0
            raise EncoderError(f"vector dimension {got} does not match the index's dimension {dim}")
        if not np.isfinite(arr).all():
            raise EncoderError("vectors must be finite: found NaN or infinity")
        if (np.abs(arr) > np.finfo(np.float32).max).any():
            raise EncoderError("vector values overflow float32")
        out = arr.astype(np.float32)
    if not normalize:
        return out.copy() if out is given else out  # never the caller's own array
    unit, norms = unit_rows(out)
    if not norms.all():
        raise EncoderError("an all-zero vector has no direction; it cannot be searched")
    return unit
