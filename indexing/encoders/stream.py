"""The encoding pipeline: tokenize ahead in a background thread, forward length-sorted batches.

sentence-transformers' ``encode()`` tokenizes each batch through ``transformers`` (Python
objects per text, padding and tensor conversion under the GIL) and only then runs the model, so
on a GPU the model waits on the tokenizer: on an H100 ``encode()`` kept ~15 % of the forward's
speed. Here the texts are ordered by length and a producer thread tokenizes a window
of them at a time; each window is sorted by token count and cut into batches, padded with numpy
in one scatter and, on a GPU, pinned so the copy to the device is asynchronous. The calling
thread only moves batches to the device, runs the model and places each batch's vectors, so
tokenization and the forward overlap.

The tokenizer is ``nanotoken``'s WordPiece when the model's tokenizer is one it implements
(BERT, MiniLM, BGE, E5 ...) and it gives the same ids as the model's own on a probe set at
load: one core tokenizes 100,000-500,000 MS MARCO passages/s that way, against ~7,000 for the
Rust ``tokenizers`` (its per-token ``Encoding`` objects), so one process feeds any GPU. Other
tokenizers go through ``tokenizers``, spread over processes on a GPU (``FastTokenizer.workers``),
since in one process its GIL-held parts compete with the model's own Python.

Inputs of at most one batch (queries) skip the thread. Models whose tokenizer has no Rust
backend, or whose features are not ids/mask/token types, fall back to ``encode()``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, ClassVar, overload

import numpy as np

from lucene_hybrid.core.errors import EncoderError

log = logging.getLogger(__name__)

_KNOWN = {"input_ids", "attention_mask", "token_type_ids"}
WINDOW_BATCHES = 16  # batches tokenized and length-sorted together
# On a GPU more: its batches are larger and its forward's cost is the padded tokens'. Sorting
# 40,000 MS MARCO passages in windows of 16 batches of 512 padded them to 1.15x their tokens,
# in windows of 64 to 1.09x; one sort of all 40,000 (bench encode's forward-only figure) 1.06x.
GPU_WINDOW_BATCHES = 64
GPU_MULTIPLE = 8  # a GPU batch's length is padded to a multiple of this many tokens
PIECE = 512  # texts per task for a tokenizing process
NATIVE_PARALLEL = 1024  # texts from which nanotoken spreads a call over its threads
# nanotoken caches each thread's recent words, 2**20 per level by default: up to ~130 MiB a
# thread, which a server's search threads fed with distinct words (4 threads of random words:
# +353 MB) would all reach. 2**16 keeps it to a few MiB (+19 MB) and tokenizing 100,000+
# passages/s a thread. NANOTOKEN_CACHE_ENTRIES overrides it.
NATIVE_CACHE_ENTRIES = 2**16
# Texts on which nanotoken must give the model tokenizer's ids before it is used: accents and
# combining marks, CJK, emoji, control and zero-width characters, odd whitespace, special
# tokens in the text, an over-long word ([UNK]), digits and punctuation, and a long text that
# the probe also truncates.
PROBE = [
    "",
    "  spaced \t out\n\r  ",
    "Ünïcödé façade — naïve café, Ångström, İstanbul, ΣΊΣΥΦΟΣ, ﬁne ligature",
    "e\u0301 combining, 日本語のテキスト, 中文, 한국어, emoji 👩‍👩‍👧 🚀!",
    "ctrl\x00\x07\x0b\x0cjoined zero\u200bwidth no\u00a0break",
    "[CLS] inside [SEP] text [PAD] [MASK] [UNK]",
    "x" * 150 + " supercalifragilisticexpialidocious antidisestablishmentarianism",
    "3.14159, $1,000.50 (approx.) -- e-mail: a.b@c.de; http://x.org/a?b=c#d",
    "The quick brown fox jumps over the lazy dog. " * 40,
]


Ids = tuple[np.ndarray, np.ndarray]  # every text's token ids end to end (int32), lengths (int64)


def _ids_of(tokenizer: Any, texts: list[str]) -> Ids:
    """Token ids of ``texts`` through the Rust ``tokenizers`` (no character offsets: nobody
    reads them)."""
    fast = getattr(tokenizer, "encode_batch_fast", None)  # tokenizers >= 0.21
    encodings = fast(texts) if fast else tokenizer.encode_batch(texts)
    ids = [e.ids for e in encodings]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _native_ids(native: Any, texts: list[str], limit: int | None) -> Ids:
    """Token ids of ``texts`` through nanotoken (the GIL released; threads for large inputs)."""
    flat, offsets = native.encode_batch(
        texts, max_length=limit, parallel=len(texts) >= NATIVE_PARALLEL
    )
    return flat.view(np.int32), np.diff(offsets)


def native_wordpiece(tokenizer: Any) -> Any | None:
    """nanotoken's WordPiece for ``tokenizer`` (a ``tokenizers.Tokenizer``), or None when
    nanotoken does not implement that tokenizer or differs from it on ``PROBE`` (whole and
    truncated): a model is never fed ids other than its own tokenizer's."""
    try:
        import nanotoken

        if "NANOTOKEN_CACHE_ENTRIES" not in os.environ:
            nanotoken.set_cache_entries(NATIVE_CACHE_ENTRIES)
        native = nanotoken.WordPieceTokenizer.from_json(tokenizer.to_str())
    except (ImportError, ValueError) as exc:  # UnsupportedTokenizerError is a ValueError
        log.debug("tokenizing with tokenizers, not nanotoken: %s", exc)
        return None
    return native if agrees(native, tokenizer) else None


def agrees(native: Any, tokenizer: Any) -> bool:
    """Whether ``native`` gives ``tokenizer``'s ids on ``PROBE``, untruncated and at 16 tokens."""
    from tokenizers import Tokenizer

    reference = Tokenizer.from_str(tokenizer.to_str())  # the caller's truncation stays as it was
    reference.no_padding()
    for limit in (None, 16):
        if limit:
            reference.enable_truncation(limit)
        else:
            reference.no_truncation()
        want, got = _ids_of(reference, PROBE), _native_ids(native, PROBE, limit)
        if not all(np.array_equal(w, g) for w, g in zip(want, got, strict=True)):
            log.warning(
                "nanotoken's ids differ from the model tokenizer's (truncation %s); "
                "tokenizing with tokenizers instead",
                limit,
            )
            return False
    return True


_worker_tokenizer: Any = None


def _start_worker(config: str) -> None:
    """A pool worker: one core of its own, so the Rust tokenizer runs single-threaded here."""
    global _worker_tokenizer
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    _worker_tokenizer = Tokenizer.from_str(config)


def _worker_ids(texts: list[str]) -> Ids:
    return _ids_of(_worker_tokenizer, texts)


def default_workers(device: str) -> int:
    """Tokenizing processes for ``device``: on a GPU all cores but two (the model's launching
    thread and the batching thread), at most 16; on a CPU none (the model needs the cores,
    and tokenizing is ~1 % of its time there)."""
    cores = os.cpu_count() or 1
    return max(0, min(cores - 2, 16)) if device.startswith("cuda") and cores >= 4 else 0


@dataclass
class FastTokenizer:
    """The model's tokenizer set to truncate like the model and never pad.

    ``native`` (nanotoken's WordPiece, see ``native_wordpiece``) tokenizes every input in this
    process when set. Otherwise the Rust ``tokenizers`` does, and with ``workers`` > 0 large
    inputs are tokenized by that many processes (each with its own GIL: in one process the
    GIL-held parts, strings in and id lists out, cap it at ~30,000 MS MARCO passages/s on 16
    cores). The pool starts at first use.
    """

    tokenizer: Any  # tokenizers.Tokenizer
    pad_id: int
    token_types: bool  # the model's features carry token_type_ids (zeros for one segment)
    extra: dict[str, Any] = field(default_factory=dict)  # non-tensor features, e.g. modality
    limit: int | None = None  # tokens per text, special tokens included
    workers: int = 0
    native: Any = None  # nanotoken.WordPieceTokenizer
    _pool: ProcessPoolExecutor | None = None

    def ids(self, texts: list[str]) -> Ids:
        """Token ids of ``texts`` in this process, over every core."""
        # nanotoken refuses a limit below the special tokens' count, where tokenizers keeps one
        # word: no model truncates that short, but the two must not differ.
        if self.native is not None and (self.limit is None or self.limit > 4):
            return _native_ids(self.native, texts, self.limit)
        return _ids_of(self.tokenizer, texts)

    def ids_per_span(self, texts: Sequence[str], spans: list[tuple[int, int]]) -> Iterator[Ids]:
        """Token ids of each span of ``texts``, in order; spans after the first are tokenized
        while the caller works on earlier ones when there is a pool."""
        if self.native is not None or not self.workers or len(spans) < 2:
            yield from (self.ids(list(texts[a:b])) for a, b in spans)
            return
        pieces = [
            (i, p, min(p + PIECE, b)) for i, (a, b) in enumerate(spans) for p in range(a, b, PIECE)
        ]
        try:
            results = self._workers().map(_worker_ids, [list(texts[p:q]) for _, p, q in pieces])
            span, parts = 0, list[Ids]()
            for (i, _, _), part in zip(pieces, results, strict=True):
                if i != span:
                    yield _join(parts)
                    span, parts = i, []
                parts.append(part)
            yield _join(parts)
        except BrokenProcessPool as exc:
            self.close()  # the next call starts new processes
            raise EncoderError(f"a tokenizing process died ({exc}); nothing was encoded") from exc

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # spawn, not fork: the parent may hold a JVM, CUDA and threads. An executor, not a
            # multiprocessing.Pool: a process that dies fails its tasks instead of hanging them.
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.tokenizer.to_str(),),
            )
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def close(self) -> None:
        """Stop the tokenizing processes (they also stop with this object or the process)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def truncate_at(self, limit: int | None) -> None:
        """Follow the model's ``max_seq_length`` (fine-tuning may change it)."""
        if limit == self.limit:
            return
        if limit:
            self.tokenizer.enable_truncation(int(limit))
        else:
            self.tokenizer.no_truncation()
        self.limit = limit
        self.close()  # the workers' copies truncate at the old length


def _join(parts: list[Ids]) -> Ids:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([f for f, _ in parts]), np.concatenate([n for _, n in parts])


def fast_tokenizer(model: Any, workers: int = 0, native: bool = True) -> FastTokenizer | None:
    """A ``FastTokenizer`` for a sentence-transformers model, or None when it has none.

    With ``native``, nanotoken tokenizes when it can (then ``workers`` is 0: one process keeps
    up with any GPU); ``workers`` tokenizing processes serve the other tokenizers.
    """
    hf = getattr(model, "tokenizer", None)
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is None:
        return None
    prepare = getattr(model, "preprocess", None) or model.tokenize
    template = prepare(["x"])
    tensors = {k for k, v in template.items() if hasattr(v, "shape")}
    if not {"input_ids", "attention_mask"} <= tensors or tensors - _KNOWN:
        return None
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(backend.to_str())  # a copy: the model's own stays as it was
    tok.no_padding()
    extra = {k: v for k, v in template.items() if k not in tensors}
    pad = getattr(hf, "pad_token_id", None)
    wordpiece = native_wordpiece(tok) if native else None
    fast = FastTokenizer(
        tok,
        int(pad or 0),
        "token_type_ids" in tensors,
        extra,
        workers=0 if wordpiece is not None else workers,
        native=wordpiece,
    )
    fast.truncate_at(model.max_seq_length)
    return fast


@dataclass
class Batch:
    """One padded batch: the texts' positions in the input, ids and mask (batch × longest).

    All three are int64 numpy arrays, or pinned CPU tensors once ``pinned`` has run.
    """

    positions: np.ndarray
    input_ids: Any
    attention_mask: Any


def token_batches(
    tok: FastTokenizer,
    texts: Sequence[str],
    batch_size: int,
    window: int,
    *,
    ramp: bool = True,
    multiple: int = 1,
) -> Iterator[Batch]:
    """Batches of ``texts``, longest first within each window of ``window`` texts.

    With ``ramp`` the first windows are smaller (2, 4, 8 batches, then ``window``), so the
    model's first batch waits for two batches' tokenization, not a whole window's. Each batch
    is padded to a ``multiple`` of tokens (on a GPU, 8: fewer distinct shapes, each of which
    costs a one-time kernel plan, and tensor-core-aligned matrices).
    """
    spans, start, size = [], 0, min(window, 2 * batch_size) if ramp else window
    while start < len(texts):
        spans.append((start, min(start + size, len(texts))))
        start, size = start + size, min(window, 2 * size)
    for (start, _), (flat, lengths) in zip(spans, tok.ids_per_span(texts, spans), strict=True):
        order = np.argsort(-lengths, kind="stable")
        # The window's ids rearranged longest text first in one gather, so that each batch's
        # ids are one slice: no per-text Python while the model's thread may want the GIL.
        lens_sorted = lengths[order]
        ends = np.cumsum(lens_sorted)
        starts = ends - lens_sorted
        shift = (np.cumsum(lengths) - lengths)[order] - starts
        ordered = flat[np.repeat(shift, lens_sorted) + np.arange(ends[-1] if len(ends) else 0)]
        for b in range(0, len(order), batch_size):
            lens = lens_sorted[b : b + batch_size]
            width = -(-int(lens[0]) // multiple) * multiple
            mask = np.arange(width) < lens[:, None]
            input_ids = np.full(mask.shape, tok.pad_id, dtype=np.int64)
            # row-major: each row's ids, then its padding
            input_ids[mask] = ordered[starts[b] : ends[b + len(lens) - 1]]
            yield Batch(order[b : b + batch_size] + start, input_ids, mask.astype(np.int64))


def pinned(batches: Iterable[Batch]) -> Iterator[Batch]:
    """The batches as page-locked tensors, so a copy to the GPU need not wait for it (a copy
    from pageable memory waits for the GPU's queue first: every batch's forward would)."""
    import torch

    def pin(a: np.ndarray) -> Any:
        return torch.from_numpy(a).pin_memory()

    for b in batches:
        yield Batch(pin(b.positions), pin(b.input_ids), pin(b.attention_mask))


def prefetch(items: Iterable[Any], depth: int, name: str = "tokenize-ahead") -> Generator[Any]:
    """``items`` produced in a background thread, up to ``depth`` ahead of the consumer.

    An exception in the producer is raised in the consumer; a consumer that stops early
    stops the producer.
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            put(("error", exc))
            return
        put(("done", None))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def features(tok: FastTokenizer, batch: Batch, device: str) -> dict[str, Any]:
    """The batch as the model's feature dict on ``device`` (copied asynchronously to a GPU)."""
    import torch

    out: dict[str, Any] = dict(tok.extra)
    for name, value in (("input_ids", batch.input_ids), ("attention_mask", batch.attention_mask)):
        out[name] = torch.as_tensor(value).to(device, non_blocking=True)
    if tok.token_types:
        out["token_type_ids"] = torch.zeros_like(out["input_ids"])
    return out


def forward(model: Any, feats: dict[str, Any], mask_4d: bool = False) -> dict[str, Any]:
    """The model over one batch's features. With ``mask_4d`` (see ``mask_4d_agrees``) the
    first module's Hugging Face model is handed the attention mask as a (batch, 1, 1, length)
    boolean tensor, which it takes as the finished SDPA mask, while later modules (pooling)
    read the 2-D one. Given the 2-D mask, transformers asks ``padding_mask.all()`` in a Python
    ``if`` to skip the mask where nothing is padded: on a GPU a wait for every kernel queued
    before it, so each forward started only once the one before had ended and the GPU idled
    while Python launched the next."""
    if not mask_4d:
        return model(feats)  # type: ignore[no-any-return]
    first, *rest = model.children()
    out = first(feats, attention_mask=feats["attention_mask"].bool()[:, None, None, :])
    for module in rest:
        out = module(out)
    return out  # type: ignore[no-any-return]


def mask_4d_agrees(model: Any, tok: FastTokenizer, device: str) -> bool:
    """Whether ``forward(..., mask_4d=True)`` can serve ``model``: a sentence-transformers
    ``Transformer`` first that takes the mask as a keyword (sentence-transformers 6) over a
    model whose attention is SDPA, giving the plain forward's embeddings on ``PROBE``."""
    import torch

    children = list(model.children())
    if not children or type(children[0]).__name__ != "Transformer":
        return False
    config = getattr(getattr(children[0], "auto_model", None), "config", None)
    if config is None:
        return False
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    tok.truncate_at(model.max_seq_length)
    try:
        with torch.inference_mode():
            for batch in token_batches(tok, PROBE, len(PROBE), len(PROBE)):
                plain = forward(model, features(tok, batch, device))["sentence_embedding"]
                four = forward(model, features(tok, batch, device), True)["sentence_embedding"]
                cosine = torch.nn.functional.cosine_similarity(plain.float(), four.float())
                if plain.shape != four.shape or bool((cosine < 0.9999).any()):
                    log.warning("the 4-D attention mask changes %s's embeddings", type(model))
                    return False
    except (TypeError, ValueError, RuntimeError) as exc:  # an older sentence-transformers
        log.debug("the plain forward, not the 4-D mask: %s", exc)
        return False
    return True


class _InOrder(Sequence[str]):
    """``texts`` read in ``order``: a slice is gathered when taken, by the tokenizing thread."""

    def __init__(self, texts: Sequence[str], order: np.ndarray):
        self.texts, self.order = texts, order

    def __len__(self) -> int:
        return len(self.order)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self.texts[j] for j in self.order[i]]
        return self.texts[self.order[i]]


def window_size(batch_size: int, *, gpu: bool) -> int:
    """Texts tokenized and length-sorted together by ``pipeline_batches`` (also the texts per
    call that fill its windows)."""
    return batch_size * (GPU_WINDOW_BATCHES if gpu else WINDOW_BATCHES)


def pipeline_batches(
    tok: FastTokenizer, texts: Sequence[str], batch_size: int, *, gpu: bool, pin: bool = False
) -> Iterable[Batch]:
    """The batches ``encode`` runs for ``texts``, tokenized ahead in a thread when there are
    several; with ``gpu``, in a GPU's windows and padded to its multiple, and with ``pin`` in
    page-locked memory. Each batch's positions index ``texts``."""
    window = window_size(batch_size, gpu=gpu)
    # Texts in order of length (characters), so each window holds texts of similar length and
    # its batches, sorted again by tokens, pad little even where windows are small (the ramp, a
    # CPU's 512 texts): 40,000 MS MARCO passages padded to 1.036x the tokens of one global sort
    # in a CPU's windows (1.089x as given), 1.065x in a GPU's (1.107x). Shortest first: the
    # first window, which the model waits for, tokenizes fastest.
    by_length = np.argsort(
        np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), kind="stable"
    )
    multiple = GPU_MULTIPLE if gpu else 1
    ordered = _InOrder(texts, by_length)
    batches: Iterable[Batch] = (
        Batch(by_length[b.positions], b.input_ids, b.attention_mask)
        for b in token_batches(tok, ordered, batch_size, window, multiple=multiple)
    )
    if pin:
        batches = pinned(batches)
    if len(texts) > batch_size:
        batches = prefetch(batches, depth=2 * WINDOW_BATCHES)
    return batches


@dataclass
class Clock:
    """Where ``encode``'s calling thread spent its time, summed over the calls it was handed to.

    ``waiting_s``: waiting for the tokenizing thread's next batch. ``launching_s``: running the
    model over batches; on a GPU that is its Python and kernel launches, which block only once
    the launch queue is full, and on a CPU the forward itself. ``finishing_s``: normalizing and
    the copy back, which on a GPU waits for every forward still queued. On a GPU, launching that
    fills a call while finishing is short means the host, not the GPU, set the pace; long
    waiting means the tokenizer did. Only calls made in the thread that created it count: a
    server's query encodings, in other threads, stay out of an index build's clock.
    """

    PARTS: ClassVar[tuple[str, ...]] = ("waiting", "launching", "finishing", "other")

    waiting_s: float = 0.0
    launching_s: float = 0.0
    finishing_s: float = 0.0
    batches: int = 0
    calls: int = 0
    thread: int = field(default_factory=threading.get_ident, repr=False)

    def shares(self, wall_s: float) -> dict[str, float] | None:
        """Each part as a share of ``wall_s``, the time it was measured over, and ``other``:
        the rest (a call's setup; in an index build, also reading and writing). None when no
        call was counted (an encoder without the pipeline: an API's, or ``encode()``'s)."""
        if not self.calls:
            return None
        shares = {
            k: round(getattr(self, f"{k}_s") / wall_s, 3) if wall_s > 0 else 0.0
            for k in self.PARTS[:-1]
        }
        shares["other"] = round(max(0.0, 1.0 - sum(shares.values())), 3)
        return shares


@contextmanager
def clocked(encoder: Any, clock: Clock) -> Iterator[Clock]:
    """``clock`` handed to ``encoder`` (one with a ``clock`` attribute, as a local model has)
    for the block, and the encoder's own clock back after it; other encoders are left alone."""
    if not hasattr(encoder, "clock"):
        yield clock
        return
    before, encoder.clock = encoder.clock, clock
    try:
        yield clock
    finally:
        encoder.clock = before


def encode(
    model: Any,
    tok: FastTokenizer,
    texts: Sequence[str],
    *,
    batch_size: int,
    device: str,
    normalize: bool = False,
    mask_4d: bool = False,
    clock: Clock | None = None,
) -> np.ndarray:
    """Sentence embeddings of ``texts`` (float32, input order, L2-normalized with
    ``normalize``), tokenizing ahead of the model (``pipeline_batches``).

    Each batch's vectors go straight to their rows of one float32 matrix on the device, which
    is normalized there and copied back once: after the last forward the calling thread has
    only that copy left to do, not a reordering and a normalization of every vector on the
    host (~2 ms per 1,000 vectors on this machine, a fifth of a GPU's time for them). The
    forwards run in the calling thread, under its autocast if it entered one; ``mask_4d``
    as for ``forward``. Nothing in the loop waits for the GPU, so Python launches batches
    ahead of it until the copy back. With ``clock``, the call's time is added to it.
    """
    import torch

    tok.truncate_at(model.max_seq_length)
    on_gpu = device.startswith("cuda")
    out = None
    tick = time.perf_counter
    waiting = launching = 0.0
    batches = 0
    with torch.inference_mode():
        start = tick()
        for batch in pipeline_batches(tok, texts, batch_size, gpu=on_gpu, pin=on_gpu):
            got = tick()
            waiting += got - start
            vectors = forward(model, features(tok, batch, device), mask_4d)["sentence_embedding"]
            if out is None:
                out = vectors.new_empty((len(texts), vectors.shape[1]), dtype=torch.float32)
            rows = torch.as_tensor(batch.positions).to(out.device, non_blocking=True)
            out.index_copy_(0, rows, vectors.float())
            batches += 1
            start = tick()
            launching += start - got
        finish = tick()
        waiting += finish - start  # the producer's end
        if out is None:
            return np.zeros((0, 0), dtype=np.float32)
        if normalize:
            out = torch.nn.functional.normalize(out, dim=1)  # a zero row stays zero
        vectors = out.cpu().numpy()
    if clock is not None and clock.thread == threading.get_ident():
        clock.waiting_s += waiting
        clock.launching_s += launching
        clock.finishing_s += tick() - finish
        clock.batches += batches
        clock.calls += 1
    return vectors
