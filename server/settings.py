"""Server settings: typed, from YAML (the packaged configs/server.yaml by default), then env."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from lucene_hybrid.core.resources import config_path
from lucene_hybrid.search.exact import EXACT_MAX_DOCS

DEFAULT_CONFIG = config_path("server.yaml")
_yaml_file: ContextVar[Path | None] = ContextVar("lucene_hybrid_yaml", default=None)


class Limits(BaseModel):
    """Request limits; a request over any of them gets a 4xx naming the limit."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    max_batch_docs: int = Field(default=1000, gt=0)
    max_batch_queries: int = Field(default=100, gt=0)
    max_k: int = Field(default=1000, gt=0, le=10_000)
    max_depth: int = Field(default=1000, gt=0, le=10_000)
    max_query_chars: int = Field(default=4096, gt=0)
    max_text_chars: int = Field(default=200_000, gt=0)
    max_id_chars: int = Field(default=512, gt=0)
    max_response_chars: int = Field(
        default=50_000_000,
        gt=0,
        description="stored text and metadata in one answer (a search batch, a get); else 422",
    )
    max_inflight: int = Field(default=32, gt=0, description="concurrent requests before queueing")
    max_wait_s: float = Field(default=5.0, gt=0, description="queue wait before a 503")
    max_head_bytes: int = Field(
        default=64 * 1024, ge=1024, description="request line and headers, else 431"
    )
    head_timeout_s: float = Field(
        default=30.0, gt=0, description="to receive a request's line and headers, else 408"
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="between a request body's chunks, else 408"
    )
    max_connections: int = Field(
        default=1000, gt=0, description="open connections; a request on one more gets a 503"
    )


class ClusterSettings(BaseModel):
    """Serving on a Ray cluster (``serve --ray``): sharded collections, one actor a shard."""

    model_config = ConfigDict(extra="forbid")

    ray_address: str | None = Field(
        default=None,
        description="None: one process, no Ray; 'auto': the running cluster; or host:port",
    )
    shard_heap: str = Field(
        default="auto",
        pattern=r"^(auto|[1-9][0-9]*[kKmMgG]?)$",
        description="each shard's JVM heap (-Xmx, e.g. 1g), or auto: 256 MB and 512 bytes a "
        "document of the shard when its process starts",
    )
    shard_timeout_s: float = Field(
        default=30.0, gt=0, description="how long a request waits for a shard before a 503"
    )


class ServerSettings(BaseSettings):
    """Everything `lucene-hybrid serve` can be told."""

    model_config = SettingsConfigDict(
        env_prefix="LUCENE_HYBRID_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("lucene-hybrid-data")
    demo_collection: bool = Field(default=True, description="build 'demo' on first start")
    collections: dict[str, Path] = Field(
        default_factory=dict, description="index directories to serve, by collection name"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    read_requires_key: bool = False
    jvm_heap: str = "2g"
    commit_interval_s: float = Field(default=1.0, ge=0)
    query_cache_size: int = Field(
        default=1024, ge=0, description="query embeddings kept per collection (0: off)"
    )
    exact_max_docs: int = Field(
        default=EXACT_MAX_DOCS,
        ge=0,
        description="dense search 'auto' is exact (brute force) up to this many vectors (0: HNSW)",
    )
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"
    limits: Limits = Field(default_factory=Limits)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = _yaml_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)


def load_settings(config: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from ``config`` (default configs/server.yaml), then env, then ``overrides``.

    Raises:
        FileNotFoundError: when an explicit config file does not exist.
        pydantic.ValidationError: naming each invalid setting.
    """
    path = Path(config) if config else DEFAULT_CONFIG
    if config and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    token = _yaml_file.set(path if path.is_file() else None)
    try:
        return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _yaml_file.reset(token)
