"""Embeddings from the OpenAI API or any OpenAI-compatible server, through the openai client."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucene_hybrid.core.errors import EncoderError, EncoderUnavailable
from lucene_hybrid.indexing.encoders.base import EncoderSpec, l2_normalize

log = logging.getLogger(__name__)

# Statuses with which a service says the input, not the service, is at fault: the caller's
# error (a 422 from our API). Any other failure is the service's (a 502).
_INPUT_REFUSED = frozenset((400, 413, 422))

KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEncoder:
    """Calls ``embeddings.create`` in batches; the client retries 429/5xx with backoff."""

    def __init__(
        self,
        spec: EncoderSpec,
        *,
        api_key: str | None = None,
        batch_size: int = 256,
        max_retries: int = 5,
        timeout: float = 60.0,
    ):
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise EncoderError(
                f"encoder {spec.describe()} needs an API key: set OPENAI_API_KEY "
                "(any OpenAI-compatible server: also set base_url / OPENAI_BASE_URL)"
            )
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise EncoderError("the openai package is missing: pip install openai") from exc
        self.spec = spec
        self.batch_size = batch_size
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=key,
            base_url=spec.base_url or os.environ.get("OPENAI_BASE_URL"),
            max_retries=max_retries,
            timeout=timeout,
        )
        self._dim = spec.dimensions or KNOWN_DIMS.get(spec.model) or 0
        if not self._dim:
            self._dim = int(self._request(["dimension probe"]).shape[1])

    @property
    def name(self) -> str:
        return self.spec.model

    @property
    def dim(self) -> int:
        return self._dim

    def _request(self, texts: list[str]) -> np.ndarray:
        kwargs: dict[str, Any] = (
            {"dimensions": self.spec.dimensions} if self.spec.dimensions else {}
        )
        try:
            response = self._client.embeddings.create(
                model=self.spec.model, input=texts, encoding_format="float", **kwargs
            )
        except self._openai.AuthenticationError as exc:
            raise EncoderUnavailable(f"the embedding service refused the API key: {exc}") from exc
        except self._openai.APIStatusError as exc:
            if exc.status_code in _INPUT_REFUSED:  # e.g. a text over the model's context
                raise EncoderError(f"the embedding service refused the input: {exc}") from exc
            raise EncoderUnavailable(f"embedding request failed after retries: {exc}") from exc
        except self._openai.OpenAIError as exc:  # no connection, a timeout
            raise EncoderUnavailable(f"embedding request failed after retries: {exc}") from exc
        rows = sorted(response.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise EncoderUnavailable(f"asked for {len(texts)} embeddings, got {len(rows)}")
        return np.asarray([r.embedding for r in rows], dtype=np.float32)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        # The API rejects empty strings; a single space embeds as "nothing".
        inputs = [(prefix + t) or " " for t in texts]
        chunks = [
            self._request(inputs[i : i + self.batch_size])
            for i in range(0, len(inputs), self.batch_size)
        ]
        out = np.concatenate(chunks)
        if out.shape[1] != self._dim:
            raise EncoderUnavailable(
                f"service returned {out.shape[1]}-dim vectors, expected {self._dim}"
            )
        return l2_normalize(out) if self.spec.normalize else out

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages, ``batch_size`` inputs per request."""
        return self._encode(texts, self.spec.passage_prefix)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries, ``batch_size`` inputs per request."""
        return self._encode(texts, self.spec.query_prefix)
