"""What a server on a Ray cluster (``lucene-hybrid serve --ray``) uses to open, create and
remove sharded collections: the server room's ``Sharding``, made of Ray actors."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lucene_hybrid.cluster.collection import ClusterSpec, ShardedCollection, import_ray
from lucene_hybrid.cluster.shard import AUTO_HEAP
from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import Bm25Settings, HnswSettings
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec

log = logging.getLogger(__name__)


def connect_ray(address: str, **init_args: Any) -> None:
    """Join the Ray cluster at ``address`` from a process that may already run a JVM: Ray's
    driver installs crash handlers for signals the JVM handles itself, so the JVM's handlers are
    put back (``jvm.keeping_signal_handlers``)."""
    ray = import_ray()
    if not ray.is_initialized():
        with jvm.keeping_signal_handlers():
            try:
                ray.init(address=address, logging_level=logging.WARNING, **init_args)
            except ConnectionError as exc:
                raise LuceneHybridError(
                    f"no Ray cluster answers at {address!r}: start one (`ray start --head`) "
                    f"or give a running cluster's address ({exc})"
                ) from None


class RaySharding:
    """Sharded collections whose shards are Ray actors of the cluster this process joined."""

    def __init__(
        self,
        heap: str = AUTO_HEAP,
        timeout_s: float = 30.0,
        commit_interval_s: float = 1.0,
        actor_options: dict[str, Any] | None = None,
    ):
        self.heap = heap
        self.timeout_s = timeout_s
        self.commit_interval_s = commit_interval_s
        self.actor_options = actor_options

    @classmethod
    def connect(cls, address: str, **kwargs: Any) -> RaySharding:
        """Join the Ray cluster at ``address`` ("auto": the one running on this machine).

        Raises:
            LuceneHybridError: without the cluster extra (``pip install 'lucene-hybrid[cluster]'``).
        """
        connect_ray(address)
        return cls(**kwargs)

    def _options(self) -> dict[str, Any]:
        return {
            "heap": self.heap,
            "timeout_s": self.timeout_s,
            "commit_interval_s": self.commit_interval_s,
            "actor_options": self.actor_options,
        }

    def open(
        self, name: str, path: Path, encoder_for: Callable[[EncoderSpec], Encoder | None]
    ) -> ShardedCollection:
        spec = ClusterSpec.read(path)
        return ShardedCollection.open(
            name, path, encoder=encoder_for(spec.encoder), **self._options()
        )

    def create(
        self,
        name: str,
        path: Path,
        shards: int,
        encoder_spec: EncoderSpec,
        encoder: Encoder | None,
        hnsw: HnswSettings | None,
        bm25: Bm25Settings | None,
    ) -> ShardedCollection:
        """Create a collection of ``shards`` shards in ``path`` (which must not exist); one
        that fails part-way leaves no folder behind."""
        try:
            return ShardedCollection.open(
                name,
                path,
                shards=shards,
                encoder_spec=encoder_spec,
                encoder=encoder,
                hnsw=hnsw,
                bm25=bm25,
                **self._options(),
            )
        except BaseException:
            if path.exists():
                ShardedCollection.end_actors(name, path, shards)
                trash = path.with_name(f".{path.name}.failed-{os.getpid()}")
                path.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
            raise

    def remove(self, coll: Any) -> None:
        """End a collection's shard actors (its folder is removed next)."""
        assert isinstance(coll, ShardedCollection)
        coll.shutdown()
