"""The local Hugging Face encoder: bundled default, pooling override, prefixes, normalization."""

from __future__ import annotations

import numpy as np

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
