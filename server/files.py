"""File descriptors: a server's collections, its connections and Lucene's writes share one limit.

Each open collection holds three files for as long as it is open (the ``write.lock`` of each
Lucene half, held by its IndexWriter, and its write-ahead log); a write opens more for a moment
(new segment files, a merge, a commit); each connection holds one. A process that runs out fails
the writes of every collection (rolled back, nothing lost) until files are freed: at a file
limit of 1,024, with few connections open, the 331st collection's first write failed with "Too
many open files", and so did the next write to the first collection. So a new collection is refused
while it would leave too few files for the writes that may run at once with the connections'
share (``connection_share``) open too.
"""

from __future__ import annotations

import os
import resource

# How the JVM and the OS word EMFILE: while it lasts, every write of every collection fails.
EMFILE = "Too many open files"
RAISE_LIMIT = (
    "raise the server's file limit (ulimit -n, systemd's LimitNOFILE, docker's --ulimit nofile) "
    "and restart it, lower max_connections or max_inflight, or delete collections"
)
FILES_PER_COLLECTION = 3  # the two write.locks and the write-ahead log
# Files a write holds while it runs (a new segment's in both halves, a merge's, a commit's):
# 16 writes at once, each to its own collection, peaked at 261 more than the server held before,
# ~16 a write (the client's connections included).
FILES_PER_WRITE = 20


def file_limit() -> int | None:
    """The files this process may open (its soft limit), or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_share(requested: int) -> int:
    """The connections a server holds open at most: ``requested``, or half its file limit when
    that is lower (collections and Lucene's writes keep the other half)."""
    limit = file_limit()
    return requested if limit is None else max(1, min(requested, limit // 2))


def files_held() -> int | None:
    """Descriptors this process holds other than sockets (its connections), or None where
    ``/proc/self/fd`` cannot be read."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    held = 0
    for fd in fds:
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                held += 1
        except OSError:  # closed since the listing (the listing's own descriptor, for one)
            continue
    return held


def room_for_collections(collections: int, connection_files: int, write_slots: int) -> int | None:
    """How many more collections fit beside the files held now, ``connection_files`` kept for
    connections and ``FILES_PER_WRITE`` for each write that may run at once (one per collection,
    as a collection's writes take turns, and at most ``write_slots``). Negative when already
    past; None when there is no limit or it cannot be measured."""
    limit, held = file_limit(), files_held()
    if limit is None or held is None:
        return None
    free = limit - held - connection_files
    per_collection = FILES_PER_COLLECTION + FILES_PER_WRITE  # while each brings a write slot
    room = (free - FILES_PER_WRITE * collections) // per_collection
    if collections + room > write_slots:  # past the slots, a collection brings only its files
        room = (free - FILES_PER_WRITE * write_slots) // FILES_PER_COLLECTION
    return room
