"""Which shard of a collection holds a document: one definition for every process and release.

A collection of N shards keeps document ``id`` in shard ``shard_of(id, N)``: the first 8 bytes
of the id's BLAKE2b digest (UTF-8, 64-bit digest), read as a big-endian unsigned integer,
modulo N. BLAKE2b is in every Python's ``hashlib`` and does not change between processes (as
``hash()`` does) or releases; the spread is uniform, so shards fill evenly whatever the ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

CLUSTER_FILE = "cluster.json"  # marks a sharded collection's folder: name, shard count, settings
SHARD_DIR = "shard-{:03d}"  # the folder of shard i inside a sharded collection's folder


def shard_of(docid: str, shards: int) -> int:
    """The shard (0 to ``shards`` - 1) that holds ``docid``.

    Raises:
        ValueError: when ``shards`` is below 1.
    """
    if shards < 1:
        raise ValueError(f"a collection has at least 1 shard, not {shards}")
    digest = hashlib.blake2b(docid.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def by_shard(ids: Iterable[str], shards: int) -> dict[int, list[int]]:
    """The positions of ``ids`` grouped by the shard each belongs to (shards with none left
    out), in their order within each group."""
    out: dict[int, list[int]] = {}
    for i, docid in enumerate(ids):
        out.setdefault(shard_of(docid, shards), []).append(i)
    return out
