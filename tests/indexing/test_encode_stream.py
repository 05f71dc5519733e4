"""The tokenize-ahead encoding pipeline (indexing/encoders/stream.py), on the CPU.

The GPU runs the same code with three differences, each exercised here by name: batches padded
to a multiple of 8 tokens, tokenizing processes (for tokenizers nanotoken does not take), and
pinned copies (only the last needs a GPU: torch's CPU build cannot pin memory).
"""

from __future__ import annotations

import copy
import logging
import random
import threading

import numpy as np
import pytest
import torch

from lucene_hybrid.core.errors import EncoderError
from lucene_hybrid.indexing.encoders import EncoderSpec, stream
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder

TEXTS = [
    "",
    "  spaced   out  ",
    "Ünïcödé façade — naïve 日本語 text",
    "word " * 400,  # past the model's 256 tokens: truncated
    "short",
    "tides are caused by the moon and the sun " * 3,
    "lucene builds an inverted index of terms",
] * 9  # 63 texts: several batches and windows at batch size 4


def _reference(encoder: HuggingFaceEncoder, texts: list[str]) -> np.ndarray:
    """sentence-transformers' own encode(): what the pipeline must reproduce."""
    return encoder.model.encode(texts, batch_size=8, convert_to_numpy=True)


def test_pipeline_matches_sentence_transformers_encode(minilm):
    assert minilm.fast_tokenizer is not None  # the default model takes the pipeline
    ours = minilm.encode_documents(TEXTS)
    np.testing.assert_allclose(ours, _reference(minilm, TEXTS), atol=2e-6)
    # one text (the query path, no thread) and an empty input
    np.testing.assert_allclose(minilm.encode_queries(TEXTS[2:3]), ours[2:3], atol=2e-6)
    assert minilm.encode_documents([]).shape == (0, 384)


def test_token_ids_are_the_models_own(minilm):
    tok = minilm.fast_tokenizer
    prepare = getattr(minilm.model, "preprocess", None) or minilm.model.tokenize
    for text in TEXTS[:7]:
        expected = prepare([text])["input_ids"][0].tolist()
        flat, lengths = tok.ids([text])
        assert flat.tolist() == expected and lengths.tolist() == [len(expected)]
    assert tok.ids([TEXTS[3]])[1][0] == 256  # truncated at the model's max_seq_length


def _random_documents(count: int, seed: int) -> list[str]:
    """Seeded documents mixing words, accents, CJK, emoji, digits, punctuation and whitespace."""
    rng = random.Random(seed)
    pieces = [
        "tide", "moon", "Lucene", "naïve", "façade", "Ångström", "straße", "ΣΊΣΥΦΟΣ", "İ",
        "日本語", "中文字", "한국", "👩‍👩‍👧", "🚀", "e\u0301", "ﬁ", "3.14", "$1,000", "(a)", "—",
        "x" * 120, "[SEP]", "\u200b", "\x0b", "\u00a0", "dis-establish", "e-mail@x.org",
    ]  # fmt: skip
    spaces = [" ", "  ", "\t", "\n", "", " "]
    return [
        "".join(rng.choice(pieces) + rng.choice(spaces) for _ in range(rng.randint(0, 120)))
        for _ in range(count)
    ]


def test_nanotoken_gives_the_tokenizers_ids(minilm):
    """The default model tokenizes through nanotoken, with the same ids as the Rust tokenizers
    on documents it was not checked on at load, whole and truncated."""
    native = stream.fast_tokenizer(minilm.model)
    plain = stream.fast_tokenizer(minilm.model, native=False)
    assert native.native is not None and plain.native is None
    docs = _random_documents(1100, seed=7) + TEXTS
    assert len(docs) >= stream.NATIVE_PARALLEL  # nanotoken's threads, not just the caller's
    for limit in (256, 24, 5):
        native.truncate_at(limit)
        plain.truncate_at(limit)
        (flat, lengths), (want_flat, want_lengths) = native.ids(docs), plain.ids(docs)
        np.testing.assert_array_equal(lengths, want_lengths)
        np.testing.assert_array_equal(flat, want_flat)
        assert lengths.max() == limit  # the documents reach every limit tried


def test_a_tokenizer_nanotoken_lacks_or_differs_on_stays_with_tokenizers(
    minilm, monkeypatch, caplog
):
    import nanotoken
    from tokenizers import Tokenizer, models

    vocab = {"a": 0, "b": 1, "ab": 2, "[UNK]": 3}
    bpe = Tokenizer(models.BPE(vocab, [("a", "b")], unk_token="[UNK]"))
    assert stream.native_wordpiece(bpe) is None  # not WordPiece: nanotoken refuses it

    class OffByOne:
        def __init__(self, real):
            self.real = real

        def encode_batch(self, texts, **kwargs):
            flat, offsets = self.real.encode_batch(texts, **kwargs)
            return flat + 1, offsets

    real = nanotoken.WordPieceTokenizer.from_json
    monkeypatch.setattr(
        nanotoken.WordPieceTokenizer, "from_json", lambda data: OffByOne(real(data))
    )
    with caplog.at_level(logging.WARNING, logger=stream.__name__):
        assert stream.native_wordpiece(minilm.fast_tokenizer.tokenizer) is None
    assert "differ" in caplog.text


def test_a_servers_tokenizing_threads_stay_small_under_distinct_words(minilm):
    """nanotoken caches words per thread (up to ~130 MiB each by default); a server's search
    threads fed distinct words must not grow toward that (4 threads: +353 MB uncapped)."""

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    tok = minilm.fast_tokenizer
    before = rss_mb()

    def distinct_queries(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(3000):
            words = ("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=7)) for _ in range(200))
            tok.ids([" ".join(words)])

    threads = [threading.Thread(target=distinct_queries, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rss_mb() - before < 100


def test_batches_cover_every_text_longest_first_per_window(minilm):
    tok = minilm.fast_tokenizer
    batches = list(stream.token_batches(tok, TEXTS, batch_size=4, window=16))
    positions = np.concatenate([b.positions for b in batches])
    assert sorted(positions.tolist()) == list(range(len(TEXTS)))
    # windows ramp 8, 16, 16, ... texts: the first batch waits on two batches' tokenizing
    assert sorted(np.concatenate([b.positions for b in batches[:2]]).tolist()) == list(range(8))
    for b in batches:
        lengths = b.attention_mask.sum(axis=1)
        assert b.input_ids.shape[1] == lengths[0] == lengths.max()  # no wasted column
        assert (np.diff(lengths) <= 0).all()  # longest first
        # every row: its text's ids, then padding
        for row, pos in enumerate(b.positions):
            n = lengths[row]
            assert b.input_ids[row, :n].tolist() == tok.ids([TEXTS[pos]])[0].tolist()
            assert (b.input_ids[row, n:] == tok.pad_id).all()


def test_gpu_padding_to_a_multiple_of_8_changes_no_vector(minilm):
    tok = minilm.fast_tokenizer
    out = np.zeros((len(TEXTS), 384), dtype=np.float32)
    with torch.inference_mode():
        for b in stream.token_batches(tok, TEXTS, 4, 16, multiple=stream.GPU_MULTIPLE):
            assert b.input_ids.shape[1] % 8 == 0
            features = stream.features(tok, b, "cpu")
            out[b.positions] = minilm.model(features)["sentence_embedding"].numpy()
    np.testing.assert_allclose(out, minilm.encode_documents(TEXTS), atol=2e-6)


def test_the_gpu_batch_plan_gives_the_same_vectors(minilm):
    """What encode() runs on a GPU, run here on the CPU: texts ordered by length, a GPU's
    windows, widths a multiple of 8, then each batch's vectors placed by its positions."""
    tok = minilm.fast_tokenizer
    texts = TEXTS + [TEXTS[2][: 7 * i] for i in range(1, 40)]  # many distinct lengths
    out = np.zeros((len(texts), 384), dtype=np.float32)
    seen: list[int] = []
    with torch.inference_mode():
        for b in stream.pipeline_batches(tok, texts, 4, gpu=True):
            assert b.input_ids.shape[1] % stream.GPU_MULTIPLE == 0
            seen.extend(b.positions.tolist())
            features = stream.features(tok, b, "cpu")
            out[b.positions] = minilm.model(features)["sentence_embedding"].numpy()
    assert sorted(seen) == list(range(len(texts)))  # every text once
    np.testing.assert_allclose(out, minilm.encode_documents(texts), atol=2e-6)


def test_the_4d_mask_forward_gives_the_same_vectors(minilm):
    """The forward a GPU runs (stream.forward with mask_4d: no padding_mask.all() wait), here
    on the CPU over a GPU's batch plan: the plain forward's vectors."""
    texts = TEXTS + [TEXTS[2][: 7 * i] for i in range(1, 40)]
    four_d = stream.encode(
        minilm.model, minilm.fast_tokenizer, texts, batch_size=4, device="cpu", mask_4d=True
    )
    np.testing.assert_allclose(four_d, minilm.encode_documents(texts), atol=2e-6)


def test_the_4d_mask_is_the_one_the_model_attends_with(minilm):
    """A wrong 4-D mask (nothing masked) changes a padded batch's vectors: the model reads the
    4-D mask, not the 2-D one beside it, so the test above compares two different paths."""
    tok = minilm.fast_tokenizer
    batch = next(stream.token_batches(tok, ["short", "a longer text of many more words"], 2, 2))
    first, *rest = minilm.model.children()
    with torch.inference_mode():
        right = stream.forward(minilm.model, stream.features(tok, batch, "cpu"), True)
        features = stream.features(tok, batch, "cpu")
        wrong = first(
            features,
            attention_mask=torch.ones_like(features["attention_mask"]).bool()[:, None, None, :],
        )
        for module in rest:
            wrong = module(wrong)
    gap = (right["sentence_embedding"] - wrong["sentence_embedding"]).abs().max()
    assert float(gap) > 1e-2


def test_the_4d_mask_is_taken_only_where_it_gives_the_same_embeddings(minilm):
    assert stream.mask_4d_agrees(minilm.model, minilm.fast_tokenizer, "cpu")
    assert not minilm.mask_4d  # the CPU keeps the plain forward: its mask check costs nothing
    eager = copy.deepcopy(minilm.model)
    list(eager.children())[0].auto_model.config._attn_implementation = "eager"  # noqa: SLF001
    # eager attention adds a float mask: a boolean one would be wrong, so it is refused
    assert not stream.mask_4d_agrees(eager, minilm.fast_tokenizer, "cpu")


def test_tokenizing_processes_give_the_same_batches_and_vectors(minilm):
    pooled = HuggingFaceEncoder(
        EncoderSpec(), batch_size=4, device="cpu", tokenize_workers=2, native_tokenizer=False
    )
    try:
        tok = pooled.fast_tokenizer
        assert tok.workers == 2
        texts = TEXTS * 20  # 1,260 texts: several pieces of 512 per window
        inline = list(stream.token_batches(minilm.fast_tokenizer, texts, 64, 1024))
        spread = list(stream.token_batches(tok, texts, 64, 1024))
        assert tok._pool is not None  # noqa: SLF001 - the processes did the work
        assert len(inline) == len(spread)
        for a, b in zip(inline, spread, strict=True):
            np.testing.assert_array_equal(a.positions, b.positions)
            np.testing.assert_array_equal(a.input_ids, b.input_ids)
        np.testing.assert_allclose(
            pooled.encode_documents(TEXTS), minilm.encode_documents(TEXTS), atol=2e-6
        )
        # a new truncation length restarts the processes with it
        pooled.model.max_seq_length = 16
        short = pooled.encode_documents(texts)
        assert tok._pool is not None and tok.limit == 16  # noqa: SLF001
        expected = _reference(pooled, texts[:7])
        np.testing.assert_allclose(short[:7], expected, atol=2e-6)
    finally:
        pooled.fast_tokenizer.close()


def test_a_dead_tokenizing_process_fails_the_call_and_the_next_starts_anew(minilm):
    pooled = HuggingFaceEncoder(
        EncoderSpec(), batch_size=4, device="cpu", tokenize_workers=2, native_tokenizer=False
    )
    pooled.model.max_seq_length = 16  # the processes are under test, not the model: keep it short
    tok = pooled.fast_tokenizer
    try:
        texts = TEXTS * 20  # several pieces: the processes tokenize them
        first = pooled.encode_documents(texts)
        assert tok._pool is not None  # noqa: SLF001
        for proc in list(tok._pool._processes.values()):  # noqa: SLF001 - kill the workers
            proc.kill()
            proc.join()
        with pytest.raises(EncoderError, match="tokenizing process died"):
            pooled.encode_documents(texts)
        np.testing.assert_array_equal(pooled.encode_documents(texts), first)
    finally:
        tok.close()


def test_prefetch_passes_errors_on_and_stops_with_its_consumer():
    def failing():
        yield 1
        raise ValueError("tokenizer broke")

    got = []
    with pytest.raises(ValueError, match="tokenizer broke"):
        for item in stream.prefetch(failing(), depth=2):
            got.append(item)
    assert got == [1]

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    it = stream.prefetch(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # the consumer stops: the producer thread stops too, a few items ahead at most
    assert not any(t.name == "tokenize-ahead" for t in threading.enumerate())
    assert len(produced) <= 3 + 2 + 2


def test_fp16_checkpoint_runs_in_fp32_on_a_cpu(tmp_path, minilm):
    """A checkpoint stored in half precision is computed in fp32 unless fp16 was chosen."""
    copy.deepcopy(minilm.model).half().save(str(tmp_path / "half"))
    half = HuggingFaceEncoder(EncoderSpec(model=str(tmp_path / "half")), device="cpu")
    assert next(half.model.parameters()).dtype == torch.float32
    cos = np.sum(half.encode_documents(TEXTS) * minilm.encode_documents(TEXTS), axis=1)
    assert cos.min() > 0.999


def test_the_clock_says_which_side_kept_the_model_waiting(minilm, monkeypatch):
    """stream.Clock splits a call's time: with a slow tokenizer the calling thread mostly
    waits for batches; with the real one it mostly runs the model (a CPU forward dwarfs
    tokenizing). Calls add up, and the parts never exceed the call's time."""
    import time

    tok = minilm.fast_tokenizer
    # 40 short texts at batch 4: 10 batches in windows of 8, 16 and 16 texts
    texts = [t for t in TEXTS if t.strip() and len(t) < 200][:40]

    def timed(clock: stream.Clock) -> float:
        t0 = time.perf_counter()
        stream.encode(minilm.model, tok, texts, batch_size=4, device="cpu", clock=clock)
        return time.perf_counter() - t0

    fast = stream.Clock()
    wall = timed(fast) + timed(fast)
    assert (fast.calls, fast.batches) == (2, 2 * 10)
    assert fast.launching_s > fast.waiting_s
    assert fast.waiting_s + fast.launching_s + fast.finishing_s <= wall
    shares = fast.shares(wall)
    assert list(shares) == list(stream.Clock.PARTS)
    assert abs(sum(shares.values()) - 1) < 0.01

    # a call from another thread (a server's query, beside an index build) is not counted
    other = threading.Thread(target=timed, args=(fast,))
    other.start()
    other.join()
    assert fast.calls == 2

    real_ids = type(tok).ids

    def slow_ids(self, batch):
        time.sleep(1.0)  # each window: longer than the model's whole call
        return real_ids(self, batch)

    monkeypatch.setattr(type(tok), "ids", slow_ids)
    slow = stream.Clock()
    timed(slow)
    assert slow.waiting_s > slow.launching_s
    # three windows of 1 s each: all of it waited for except what the model's forwards overlap
    assert slow.waiting_s >= 3.0 - slow.launching_s - 0.1


def test_index_stage_encodes_every_staged_copy_and_leaves_nothing(minilm, tmp_path, monkeypatch):
    """bench_encode.index_stage stages the texts as `index` does and times the build's encode
    stage: every copy is encoded (the encoder's calls cover them), its clock is returned to
    None, and the staging folder is gone."""
    import tempfile

    from lucene_hybrid.bench import encode as bench_encode

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[int] = []
    real = minilm.encode_documents

    def counting(texts):
        seen.append(len(texts))
        return real(texts)

    monkeypatch.setattr(minilm, "encode_documents", counting)
    texts = [t for t in TEXTS if t.strip()][:20]
    stage = bench_encode.index_stage(minilm, texts, copies=3)
    assert stage["documents"] == 60 and sum(seen) == 60
    assert stage["docs_s"] > 0
    assert list(stage["split"]) == list(stream.Clock.PARTS)
    assert abs(sum(stage["split"].values()) - 1) < 0.01
    assert minilm.clock is None
    assert list(tmp_path.iterdir()) == []


def test_clocked_lends_a_clock_for_a_block_only():
    """stream.clocked hands a clock to an encoder that has one and gives its own back, also
    when the block fails; an encoder without a clock attribute is left as it was."""

    class Local:
        clock: stream.Clock | None = None

    encoder, mine = Local(), stream.Clock()
    encoder.clock = mine
    with pytest.raises(RuntimeError), stream.clocked(encoder, stream.Clock()) as lent:
        assert encoder.clock is lent and lent is not mine
        raise RuntimeError("the build failed")
    assert encoder.clock is mine

    remote = object()  # an API encoder: no clock to lend
    with stream.clocked(remote, stream.Clock()) as unused:
        assert not hasattr(remote, "clock")
    assert unused.shares(1.0) is None  # no call counted: no split to report
