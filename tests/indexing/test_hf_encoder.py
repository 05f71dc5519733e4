"""The local Hugging Face encoder: bundled default, pooling override, prefixes, normalization."""

from __future__ import annotations

import numpy as np
import pytest

from lucene_hybrid.indexing.encoders import EncoderSpec, load_encoder


def test_default_pooling_prefixes_and_normalization(minilm):
    texts = ["Penguins huddle to keep warm", "Tax returns are due in April"]
    docs = minilm.encode_documents(texts)
    assert docs.shape == (2, 384) and docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-5)
    # queries and passages go through the same model when no prefixes are set
    np.testing.assert_allclose(minilm.encode_queries(texts), docs, atol=1e-5)
    q = minilm.encode_queries(["how do penguins stay warm"])[0]
    assert int(np.argmax(docs @ q)) == 0

    prefixed = load_encoder(EncoderSpec(query_prefix="query: ", passage_prefix="passage: "))
    assert not np.allclose(prefixed.encode_queries(texts), docs, atol=1e-3)
    np.testing.assert_allclose(
        prefixed.encode_documents(texts),
        minilm.encode_documents(["passage: " + t for t in texts]),
        atol=1e-5,
    )

    # An explicit pooling builds Transformer + Pooling modules (no Normalize module of the
    # model's own), so normalization is ours to apply or not.
    cls = load_encoder(EncoderSpec(pooling="cls", max_length=64))
    out = cls.encode_documents(texts)
    assert out.shape == (2, 384) and not np.allclose(out, docs, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    raw = load_encoder(EncoderSpec(pooling="cls", max_length=64, normalize=False))
    raw_out = raw.encode_documents(texts)
    assert not np.allclose(np.linalg.norm(raw_out, axis=1), 1.0, atol=1e-2)
    np.testing.assert_allclose(
        raw_out / np.linalg.norm(raw_out, axis=1, keepdims=True), out, atol=1e-5
    )


def test_precisions_keep_the_vectors_close_and_int8_is_cpu_inference_only():
    from lucene_hybrid.core.errors import EncoderError
    from lucene_hybrid.indexing.encoders import EncoderSpec
    from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder

    texts = ["tides are caused by the moon", "lucene builds an inverted index of terms"]
    fp32 = HuggingFaceEncoder(EncoderSpec(precision="fp32"), device="cpu").encode_documents(texts)
    for precision, low in (("bf16", 0.99), ("int8", 0.8)):
        spec = EncoderSpec(precision=precision)
        vecs = HuggingFaceEncoder(spec, device="cpu").encode_documents(texts)
        assert vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
        cos = np.sum(vecs * fp32, axis=1)
        assert (cos > low).all() and not np.array_equal(vecs, fp32)
    with pytest.raises(EncoderError, match="int8"):
        HuggingFaceEncoder(EncoderSpec(precision="int8"), device="cpu", trainable=True)
