"""Request and response bodies of the REST API (pydantic; the OpenAPI schema comes from here)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lucene_hybrid.core.manifest import Bm25Settings, HnswSettings
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.search.filters import Filter
from lucene_hybrid.search.types import DEFAULT_ALPHA, DEFAULT_FUSION, DEFAULT_NORMALIZATION


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: ErrorDetail


class CollectionCreate(BaseModel):
    """Create an empty collection, or attach an index directory built by `lucene-hybrid index`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    encoder: EncoderSpec = Field(default_factory=EncoderSpec)
    hnsw: HnswSettings = Field(default_factory=HnswSettings)
    bm25: Bm25Settings = Field(default_factory=Bm25Settings)
    path: str | None = Field(default=None, description="attach this existing index directory")
    shards: int = Field(
        default=1,
        ge=1,
        le=256,
        description="split over this many shards (a server on a Ray cluster: serve --ray); "
        "fixed at creation",
    )


class CollectionInfo(BaseModel):
    name: str
    documents: int
    size_bytes: int
    path: str
    manifest: dict[str, Any]
    shards: list[dict[str, Any]] | None = Field(
        default=None, description="a sharded collection's shards: number, up, documents, JVM heap"
    )


class CollectionList(BaseModel):
    collections: list[CollectionInfo]
    failed: dict[str, str] = Field(default_factory=dict, description="name -> why it is closed")


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("ids may not contain control characters (newline, tab, NUL...)")
    return value


def _finite_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or Infinity: refuse them here rather than fail to answer later."""

    def walk(v: Any, path: str) -> None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"metadata value at {path or 'top level'} is {v}: not JSON")
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, f"{path}[{i}]")

    walk(value, "")
    return value


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(min_length=1)
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[float] | None = Field(default=None, description="omit to embed text server-side")

    _check_id = field_validator("id")(_no_control_chars)
    _check_metadata = field_validator("metadata")(_finite_metadata)


class UpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)


class WriteResult(BaseModel):
    collection: str
    count: int = Field(description="documents upserted, or ids deleted (present or not)")


def _ids_or_filter(model: Any) -> Any:
    if (model.ids is None) == (model.filter is None):
        raise ValueError("give either 'ids' or 'filter', not both and not neither")
    return model


class DeleteRequest(BaseModel):
    """Delete by id, or every document matching a metadata filter."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ids: list[str] | None = Field(default=None, min_length=1)
    filter: Filter | None = Field(default=None, description="delete all documents matching it")

    _one_of = model_validator(mode="after")(_ids_or_filter)


class GetRequest(BaseModel):
    """Fetch by id (in the order given); or, without ids, page through the documents (all of
    them, or those matching a filter) in id order, ``limit`` at a time, each page starting after
    the previous page's ``next``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ids: list[str] | None = Field(default=None, min_length=1)
    filter: Filter | None = Field(default=None, description="page through documents matching it")
    limit: int = Field(default=100, ge=1, description="without ids: documents per page")
    after: str | None = Field(
        default=None, description="without ids: start after this id (the last page's 'next')"
    )
    with_vectors: bool = False

    @model_validator(mode="after")
    def _ids_or_page(self) -> GetRequest:
        if self.ids is not None and (self.filter is not None or self.after is not None):
            raise ValueError("give 'ids', or 'filter' and 'after' to page, not both")
        return self


class EmbedRequest(BaseModel):
    """Texts to embed with the collection's own encoder."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1)
    input_type: Literal["query", "document"] = "query"


class EmbedResponse(BaseModel):
    dim: int
    vectors: list[list[float]]


class DocumentOut(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]
    vector: list[float] | None = None


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    next: str | None = Field(
        default=None,
        description="when paging: pass as 'after' for the next page; null on the last page",
    )


class SearchRequest(BaseModel):
    """One search. Hybrid runs BM25 and dense over ``depth`` candidates each and fuses them."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    query: str | None = Field(default=None, description="query text (bm25 and hybrid need it)")
    vector: list[float] | None = Field(default=None, description="query vector for the dense side")
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    k: int = Field(default=10, ge=1)
    offset: int = Field(
        default=0, ge=0, description="skip this many hits: a page of k from rank offset+1"
    )
    depth: int = Field(default=100, ge=1, description="candidates per retriever")
    fusion: Literal["rrf", "linear"] = DEFAULT_FUSION
    rrf_k: float = Field(default=60.0, ge=0)
    weights: tuple[float, float] = Field(default=(1.0, 1.0), description="RRF (bm25, dense)")
    alpha: float = Field(
        default=DEFAULT_ALPHA, ge=0, le=1, description="linear: 0 bm25 only, 1 dense only"
    )
    normalization: Literal["minmax", "zscore"] = DEFAULT_NORMALIZATION
    k1: float | None = Field(default=None, ge=0)  # at most MAX_K1: SearchParams says why
    b: float | None = Field(default=None, ge=0, le=1)
    ef_search: int | None = Field(
        default=None, ge=1, description="HNSW candidate list size (makes auto use HNSW)"
    )
    dense_search: Literal["auto", "exact", "hnsw"] = Field(
        default="auto", description="exact: score every vector; auto: exact on small collections"
    )
    filter: Filter | None = None
    include_text: bool = True
    explain: bool = Field(default=False, description="explain each hit's fused score")
    timings: bool = False
    allow_partial: bool = Field(
        default=False,
        description="a sharded collection: answer without shards that do not answer in time "
        "(named in missing_shards) instead of a 503",
    )


class HitOut(BaseModel):
    id: str
    score: float
    rank: int
    text: str | None = None
    metadata: dict[str, Any] | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    explain: dict[str, Any] | None = Field(
        default=None, description="with explain=true: the arithmetic behind the fused score"
    )


class SearchResponse(BaseModel):
    collection: str
    mode: str
    hits: list[HitOut]
    timings_ms: dict[str, float] | None = None
    missing_shards: list[int] | None = Field(
        default=None, description="shards left out of this answer (allow_partial)"
    )


class BatchSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    searches: list[SearchRequest] = Field(min_length=1)


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse]
