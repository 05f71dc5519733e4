"""The collections a server holds: directories under ``DATA_DIR/collections``, opened at start.

A collection is a lucene-hybrid index directory. Batch-built indexes are attached by a symlink
(their files stay where `lucene-hybrid index` put them, and take upserts and deletes there);
deleting an attached collection removes the link, never the user's index.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import Bm25Settings, HnswSettings, read_manifest
from lucene_hybrid.core.sharding import CLUSTER_FILE
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec
from lucene_hybrid.search.exact import EXACT_MAX_DOCS
from lucene_hybrid.server.collection import (
    Collection,
    FileLimitReached,
    ServedCollection,
    StorageError,
)
from lucene_hybrid.server.files import (
    FILES_PER_COLLECTION,
    FILES_PER_WRITE,
    RAISE_LIMIT,
    file_limit,
    room_for_collections,
)

log = logging.getLogger(__name__)

COLLECTIONS_DIR = "collections"  # under the data directory: one folder per collection
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _remove(path: Path, name: str) -> None:
    """Remove a collection's link, or its directory: renamed first, so that a removal cut
    short never leaves a half-deleted collection under its name to be opened at startup."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        trash = path.with_name(f".{name}.deleting")
        shutil.rmtree(trash, ignore_errors=True)  # what a delete cut short left
        path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        if trash.exists():  # gone from the server either way; the next delete retries
            log.warning("could not remove all of %s: remove it by hand", trash)


class CollectionNotFound(LuceneHybridError, KeyError):
    """No collection (or document) by that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CollectionExists(LuceneHybridError):
    """A collection by that name already exists."""


class CollectionUnavailable(LuceneHybridError):
    """The collection exists on disk but could not be opened (the reason is in the message)."""


class ShardingUnavailable(LuceneHybridError, ValueError):
    """A sharded collection asked of a server that runs in one process (not ``--ray``)."""


class Sharding(Protocol):
    """How a server on a cluster opens, creates and removes sharded collections (the cluster
    room provides it: ``lucene_hybrid.cluster.RaySharding``)."""

    def open(
        self, name: str, path: Path, encoder_for: Callable[[EncoderSpec], Encoder | None]
    ) -> ServedCollection:
        """Open the sharded collection in ``path`` (``encoder_for``: the server's models,
        shared between collections)."""
        ...

    def create(
        self,
        name: str,
        path: Path,
        shards: int,
        encoder_spec: EncoderSpec,
        encoder: Encoder | None,
        hnsw: HnswSettings | None,
        bm25: Bm25Settings | None,
    ) -> ServedCollection: ...

    def remove(self, coll: ServedCollection) -> None:
        """End a collection's shards, before its folder is removed."""
        ...


class InvalidName(LuceneHybridError, ValueError):
    """A collection name that could escape the data directory or is otherwise unusable."""


def check_name(name: str) -> str:
    """Validate a collection name: 1-64 of letters, digits, '_' and '-', not starting with them.

    Raises:
        InvalidName: naming the rule.
    """
    if not NAME_RE.match(name):
        raise InvalidName(
            f"invalid collection name {name[:80]!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class Registry:
    """Open collections by name; create, attach and delete them."""

    def __init__(
        self,
        data_dir: Path,
        *,
        commit_interval_s: float = 1.0,
        query_cache_size: int = 1024,
        exact_max_docs: int = EXACT_MAX_DOCS,
        connection_files: int = 0,
        write_slots: int = 32,
        sharding: Sharding | None = None,
    ):
        """``connection_files``: the files kept for connections (the server's connection cap);
        ``write_slots``: the requests that may run at once. A new collection is refused while it
        would leave too few of the rest for the writes that may run at once. ``sharding``:
        how to serve sharded collections (None: a server in one process, which serves none)."""
        self.root = data_dir / COLLECTIONS_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.commit_interval_s = commit_interval_s
        self.query_cache_size = query_cache_size
        self.exact_max_docs = exact_max_docs
        self.connection_files = connection_files
        self.write_slots = write_slots
        self._lock = threading.Lock()
        self.sharding = sharding
        self._collections: dict[str, ServedCollection] = {}
        self._encoders: dict[str, Encoder] = {}
        self.failed: dict[str, str] = {}  # name -> why it is not open (it can be deleted)

    def encoder_for(self, spec: EncoderSpec) -> Encoder | None:
        """Share one loaded model between collections that use the same encoder."""
        if spec.kind == "precomputed":
            return None
        key = spec.model_dump_json()
        if key not in self._encoders:
            from lucene_hybrid.indexing.encoders import load_encoder

            self._encoders[key] = load_encoder(spec)
        return self._encoders[key]

    def open_all(self) -> None:
        """Open every collection under the data directory; failures are logged and kept."""
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or not NAME_RE.match(path.name):
                continue
            try:
                self._open(path.name, path)
            except LuceneHybridError as exc:
                self.failed[path.name] = f"could not be opened at startup: {exc}"
                log.error("collection %s not opened: %s", path.name, exc)
        if (room := self._room()) is not None and room < 0:
            log.warning(
                "%d collections leave too few of the %d files this process may open for %d "
                "connections and the writes that may run at once: writes may fail with "
                "'too_many_open_files'; %s",
                len(self._collections),
                file_limit(),
                self.connection_files,
                RAISE_LIMIT,
            )

    def _room(self) -> int | None:
        return room_for_collections(len(self._collections), self.connection_files, self.write_slots)

    def _check_room(self, name: str) -> None:
        """Refuse a new collection that would leave writes too few files.

        Raises:
            FileLimitReached: naming the limit, what holds the files, and the ways out.
        """
        if (room := self._room()) is not None and room < 1:
            raise FileLimitReached(
                f"collection {name!r} not created: this server may open {file_limit():,} "
                f"files; its {len(self._collections):,} collections hold {FILES_PER_COLLECTION} "
                f"each, {self.connection_files:,} are kept for connections (max_connections) "
                f"and {FILES_PER_WRITE} for each write that may run at once (one per "
                f"collection, up to max_inflight {self.write_slots}), so one more collection "
                f"would leave writes too few; {RAISE_LIMIT}"
            )

    def _open(self, name: str, path: Path) -> ServedCollection:
        coll: ServedCollection
        if (path / CLUSTER_FILE).exists():
            if self.sharding is None:
                raise CollectionUnavailable(
                    f"collection {name!r} is sharded: serve it on a Ray cluster (serve --ray)"
                )
            coll = self.sharding.open(name, path, self.encoder_for)
        else:
            manifest = read_manifest(path)
            coll = Collection(
                name,
                path,
                encoder=self.encoder_for(manifest.encoder),
                commit_interval_s=self.commit_interval_s,
            )
            self._tune(coll)
        self._collections[name] = coll
        self.failed.pop(name, None)
        return coll

    def _tune(self, coll: Collection) -> None:
        coll.searcher.query_cache_size = self.query_cache_size
        if coll.searcher.exact is not None:
            coll.searcher.exact.max_docs = self.exact_max_docs

    def names(self) -> list[str]:
        return sorted(self._collections)

    def open_collections(self) -> list[ServedCollection]:
        """The open collections, by name. One may be deleted while the caller reads it: its
        reads then raise ``CollectionClosed``."""
        open_now = dict(self._collections)  # one copy: a delete may run meanwhile
        return [open_now[name] for name in sorted(open_now)]

    def get(self, name: str) -> ServedCollection:
        """The open collection ``name``.

        Raises:
            CollectionNotFound: when there is none.
        """
        coll = self._collections.get(name)
        if coll is None:
            if name in self.failed:
                raise CollectionUnavailable(
                    f"collection {name!r} is unavailable: {self.failed[name]}"
                )
            raise CollectionNotFound(f"no collection named {name[:80]!r}")
        return coll

    def create(
        self,
        name: str,
        encoder_spec: EncoderSpec,
        hnsw: HnswSettings | None = None,
        bm25: Bm25Settings | None = None,
        shards: int = 1,
    ) -> ServedCollection:
        """Create an empty collection; ``shards`` above 1 splits it over a cluster's shards.

        Raises:
            ShardingUnavailable: shards asked of a server in one process.
        """
        check_name(name)
        if shards > 1 and self.sharding is None:
            raise ShardingUnavailable(
                f"a collection of {shards} shards needs a server on a Ray cluster: start it "
                "with `lucene-hybrid serve --ray` (or ask for 1 shard)"
            )
        with self._lock:
            path = self.root / name
            if name in self._collections or path.exists() or path.is_symlink():
                raise CollectionExists(f"collection {name!r} already exists")
            coll: ServedCollection
            if shards > 1:
                assert self.sharding is not None
                encoder = self.encoder_for(encoder_spec)
                coll = self.sharding.create(name, path, shards, encoder_spec, encoder, hnsw, bm25)
            else:
                self._check_room(name)
                coll = Collection.create(
                    name,
                    path,
                    encoder_spec=encoder_spec,
                    encoder=self.encoder_for(encoder_spec),
                    hnsw=hnsw,
                    bm25=bm25,
                    commit_interval_s=self.commit_interval_s,
                )
                self._tune(coll)
            self._collections[name] = coll
            self.failed.pop(name, None)  # one configured but not attached at startup
            return coll

    def attach(self, name: str, index_dir: Path) -> ServedCollection:
        """Serve an index directory built by `lucene-hybrid index` as collection ``name`` (a
        sharded one, built with ``--shards``, on a Ray cluster only)."""
        check_name(name)
        index_dir = index_dir.resolve()
        if not (index_dir / CLUSTER_FILE).exists():
            read_manifest(index_dir)  # refuse anything that is not an index, before linking it
        elif self.sharding is None:
            raise CollectionUnavailable(
                f"{index_dir} is a sharded collection: serve it on a Ray cluster (serve --ray)"
            )
        with self._lock:
            link = self.root / name
            if name in self._collections or link.exists() or link.is_symlink():
                raise CollectionExists(f"collection {name!r} already exists")
            self._check_room(name)
            link.symlink_to(index_dir, target_is_directory=True)
            try:
                return self._open(name, link)
            except BaseException:
                link.unlink()
                raise

    def delete(self, name: str) -> None:
        """Close and remove a collection (an attached one: only its link). One that could not
        be opened at startup is removed too: deleting is how a user drops a broken one.

        Raises:
            CollectionNotFound: when there is none by that name.
            StorageError: when its directory could not be removed (a read-only disk): it is
                then reported as failed, its files kept, and a later delete may retry.
        """
        with self._lock:
            if name in self.failed and name not in self._collections:
                path = self.root / name
            else:
                coll = self.get(name)
                try:
                    coll.close(f"collection {name!r} was deleted")
                except Exception:  # e.g. its directory was removed under us: forget it anyway
                    log.exception("closing collection %s before deleting it failed", name)
                del self._collections[name]
                path = coll.path
                if self.sharding is not None and not isinstance(coll, Collection):
                    self.sharding.remove(coll)  # its shards end before their folders go
            try:
                _remove(path, name)
            except OSError as exc:
                self.failed[name] = f"deleting it failed ({exc}); its files are kept"
                raise StorageError(
                    f"collection {name!r} could not be removed ({exc}); its files are kept"
                ) from exc
            self.failed.pop(name, None)

    def commit_all(self) -> None:
        """Commit pending writes whose interval has passed (called periodically)."""
        for coll in list(self._collections.values()):
            try:
                coll.maybe_commit()
            except Exception:  # keep committing the others; the log still holds the writes
                log.exception("commit of collection %s failed", coll.name)

    def close(self) -> None:
        """Commit and close every collection."""
        with self._lock:
            for coll in self._collections.values():
                try:
                    coll.close(f"collection {coll.name!r} is closed: the server is stopping")
                except Exception:
                    log.exception("closing collection %s failed", coll.name)
            self._collections.clear()
