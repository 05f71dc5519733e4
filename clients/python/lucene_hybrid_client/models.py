"""Typed request and response models (mirroring the server's OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["bm25", "dense", "hybrid"]


class Document(BaseModel):
    """A document to upsert or one returned by get; ``vector`` None lets the server embed."""

    model_config = ConfigDict(extra="ignore")

    id: str
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[float] | None = None


class Hit(BaseModel):
    """One ranked result with the BM25 and dense rank/score behind its fused score."""

    model_config = ConfigDict(extra="ignore")

    id: str
    score: float
    rank: int
    text: str | None = None
    metadata: dict[str, Any] | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    explain: dict[str, Any] | None = None


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    collection: str
    mode: str
    hits: list[Hit]
    timings_ms: dict[str, float] | None = None


class ShardInfo(BaseModel):
    """One shard of a sharded collection (a server run with ``serve --ray``)."""

    model_config = ConfigDict(extra="ignore")

    shard: int
    up: bool
    documents: int


class CollectionInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    documents: int
    size_bytes: int
    path: str
    manifest: dict[str, Any]
    shards: list[ShardInfo] | None = None  # a sharded collection's, in shard order

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def server_side_encoder(self) -> bool:
        return self.manifest["encoder"]["kind"] != "precomputed"


class SearchRequest(BaseModel):
    """Every option of the search API; None leaves the server's default."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = None
    vector: list[float] | None = None
    mode: Mode = "hybrid"
    k: int = 10
    offset: int | None = None
    depth: int | None = None
    fusion: Literal["rrf", "linear"] | None = None
    rrf_k: float | None = None
    weights: tuple[float, float] | None = None
    alpha: float | None = None
    normalization: Literal["minmax", "zscore"] | None = None
    k1: float | None = None
    b: float | None = None
    ef_search: int | None = None
    dense_search: Literal["auto", "exact", "hnsw"] | None = None
    filter: dict[str, Any] | None = None
    include_text: bool = True
    timings: bool = False
    explain: bool = False

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
