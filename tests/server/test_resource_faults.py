"""Resource faults on a real server process: a full disk, a read-only data directory, a
collection directory deleted under the server, a JVM heap too small for a request. Each gives a
clear JSON error, the server stays up for the other collections, and nothing acknowledged is
lost."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serverproc import Server, check_both_halves

pytestmark = pytest.mark.slow

C = "/v1/collections"
DIM = 8


def docs(
    prefix: str, n: int, text_chars: int = 40, start: int = 0, words: str = "lorem ipsum dolor"
) -> list[dict]:
    filler = f"{words} " * (text_chars // (len(words) + 1) + 1)
    return [
        {
            "id": f"{prefix}{i}",
            "text": f"{prefix} doc {i} {filler[:text_chars]}",
            "metadata": {"n": i},
            "vector": [1.0, float(i), 0.5, 0, 0, 0, 0, 0],
        }
        for i in range(start, start + n)
    ]


def create(srv: Server, name: str) -> None:
    body = {"name": name, "encoder": {"kind": "precomputed", "dim": DIM}}
    r = srv.post(C, body)
    assert r.status_code == 201, r.text


def create_filled(srv: Server, *names: str) -> None:
    """Create collections, each holding 20 documents whose ids start with its name."""
    for name in names:
        create(srv, name)
        r = srv.post(f"{C}/{name}/documents", {"documents": docs(name, 20)})
        assert r.status_code == 200, r.text[:1000]


def ids_present(srv: Server, name: str, ids: list[str]) -> set[str]:
    found = set()
    for start in range(0, len(ids), 1000):  # the server's per-request limit
        r = srv.post(f"{C}/{name}/documents/get", {"ids": ids[start : start + 1000]})
        assert r.status_code == 200, r.text
        found |= {d["id"] for d in r.json()["documents"]}
    return found


def json_error(r, status: int, *words: str) -> str:
    assert r.status_code == status, r.text[:1000]
    message = r.json()["error"]["message"]
    for word in words:
        assert word in message, message
    return message


def test_full_disk_refuses_writes_and_keeps_acknowledged_ones(tmp_path):
    data = tmp_path / "data"
    limit = 3 * 1024 * 1024  # no file the server writes may grow past 3 MB: "the disk is full"

    def fsize_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    srv = Server(data, preexec=fsize_limit).start()  # commits every 30 s: the log grows
    acknowledged: list[str] = []
    try:
        create(srv, "full")
        create(srv, "other")
        assert srv.post(f"{C}/other/documents", {"documents": docs("o", 10)}).status_code == 200
        refused = None
        for batch in range(100):
            r = srv.post(
                f"{C}/full/documents", {"documents": docs("f", 50, 2000, start=batch * 50)}
            )
            if r.status_code != 200:
                refused = r
                break
            acknowledged += [f"f{i}" for i in range(batch * 50, batch * 50 + 50)]
        assert refused is not None, "the file-size limit never bit"
        json_error(refused, 507, "nothing changed")
        assert len(acknowledged) >= 100
        # Acknowledged writes are all there, the refused batch is wholly absent ...
        assert ids_present(srv, "full", acknowledged) == set(acknowledged)
        lost_batch = [f"f{i}" for i in range(len(acknowledged), len(acknowledged) + 50)]
        assert ids_present(srv, "full", lost_batch) == set()
        # ... and the other collection still answers, reads and small writes alike.
        hits = srv.post(f"{C}/other/search", {"query": "doc", "mode": "bm25"}).json()["hits"]
        assert len(hits) == 10
        assert srv.post(f"{C}/other/documents", {"documents": docs("o", 1)}).status_code == 200
        assert srv.get("/healthz").status_code == 200
    finally:
        srv.stop()
    srv = Server(data).start()  # space again: everything acknowledged survived the restart
    try:
        assert ids_present(srv, "full", acknowledged) == set(acknowledged)
        assert srv.get(f"{C}/full").json()["documents"] == len(acknowledged)
    finally:
        srv.stop()
    check_both_halves(data / "collections" / "full")


def test_collections_past_the_file_limit_are_refused_and_writes_keep_their_files(tmp_path):
    """Each open collection holds 3 files, and a write ~16 more while it runs. Unguarded, the
    collection that took the last files left every write of every collection failing. Under a
    file limit of 320 (160 kept for connections) a new collection is refused, 507
    too_many_open_files naming the limit and the way out, while it would leave too few for the
    writes that may run at once; nothing of it is left on disk. The ones created before all take
    writes at once, with 120 idle connections open beside them, and a delete makes room."""
    limit = 320

    def files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    data = tmp_path / "data"
    srv = Server(data, preexec=files).start()
    idle: list[socket.socket] = []
    try:
        made: list[str] = []
        for i in range(120):  # unguarded, the files ran out near the 100th
            body = {"name": f"t{i}", "encoder": {"kind": "precomputed", "dim": DIM}}
            refused = srv.post(C, body)
            if refused.status_code != 201:
                break
            made.append(f"t{i}")
            r = srv.post(f"{C}/t{i}/documents", {"documents": docs(f"t{i}", 20)})
            assert r.status_code == 200, r.text
        json_error(refused, 507, f"{limit} files", "ulimit -n", "max_connections")
        assert refused.json()["error"]["type"] == "too_many_open_files"
        assert len(made) >= 3, made
        assert not (data / "collections" / f"t{len(made)}").exists()

        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(120)]

        def write(name: str, batch: int) -> int:
            more = docs(name, 50, start=100 * batch)
            return srv.post(f"{C}/{name}/documents", {"documents": more}).status_code

        with ThreadPoolExecutor(len(made)) as pool:
            for batch in range(1, 4):
                codes = list(pool.map(write, made, [batch] * len(made)))
                assert codes == [200] * len(made), codes
        for name in made:
            hits = srv.post(f"{C}/{name}/search", {"query": "doc", "mode": "bm25", "k": 100})
            assert len(hits.json()["hits"]) == 100, hits.text[:500]
        for sock in idle:
            sock.close()
        assert srv.client_delete(f"{C}/{made[0]}").status_code in (200, 204)
        create(srv, "again")
    finally:
        for sock in idle:
            sock.close()
        srv.stop()


def test_a_collection_out_of_files_answers_503_never_stale_and_recovers(tmp_path):
    """The server's file limit lowered under it to a few past what it holds. A write finds no
    file for its new segment, and its rollback none to reopen the collection with: 503
    collection_unavailable naming the cause, and until the rollback is finished (retried at each
    request) searches and gets answer 503 too, never the last commit's state without the
    acknowledged writes (they answered 200 with no hits before). With files again, the next
    request finishes it: every acknowledged write is there, the failed batch is not, and writes
    go on."""
    srv = Server(tmp_path / "data", env={"LUCENE_HYBRID_COMMIT_INTERVAL_S": "3600"}).start()
    try:
        create(srv, "c")
        assert srv.post(f"{C}/c/documents", {"documents": docs("a", 5)}).status_code == 200
        pid = srv.proc.pid
        held = len(os.listdir(f"/proc/{pid}/fd"))
        before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (held + 4, before[1]))
        try:
            r = srv.post(f"{C}/c/documents", {"documents": docs("b", 50)})
            json_error(r, 503, "Too many open files", "ulimit -n")
            assert r.json()["error"]["type"] == "collection_unavailable"
            search = {"query": "doc", "mode": "bm25"}
            assert srv.post(f"{C}/c/search", search).status_code == 503
            assert srv.post(f"{C}/c/documents/get", {"ids": ["a0"]}).status_code == 503
            everything = {"filter": {"field": "n", "op": "gte", "value": 0}}
            assert srv.post(f"{C}/c/documents/delete", everything).status_code == 503
            listed = srv.get(C).json()
            assert "c" in listed["failed"] and not listed["collections"]
            assert srv.get("/metrics").status_code == 200
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
        assert ids_present(srv, "c", [f"a{i}" for i in range(5)]) == {f"a{i}" for i in range(5)}
        assert ids_present(srv, "c", [f"b{i}" for i in range(50)]) == set()
        assert len(srv.post(f"{C}/c/search", search).json()["hits"]) == 5
        dense = {"vector": [1.0] * DIM, "mode": "dense", "k": 10}  # exact, over a fresh copy
        assert len(srv.post(f"{C}/c/search", dense).json()["hits"]) == 5
        assert srv.post(f"{C}/c/documents", {"documents": docs("b", 50)}).status_code == 200
        assert len(ids_present(srv, "c", [f"b{i}" for i in range(50)])) == 50
    finally:
        srv.stop()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only for everyone: a read-only bind mount (root ignores chmod)."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_read_only_collection_is_reported_and_the_rest_served(tmp_path):
    data = tmp_path / "data"
    srv = Server(data).start()
    try:
        create_filled(srv, "frozen", "live")
    finally:
        srv.stop()
    frozen = data / "collections" / "frozen"
    with read_only(frozen):
        assert not os.access(frozen, os.W_OK) or os.geteuid() == 0
        with pytest.raises(OSError):
            (frozen / "probe").write_text("x")
        srv = Server(data).start()
        try:
            ready = srv.get("/readyz")
            assert ready.status_code == 503 and "frozen" in ready.json()["failed"]
            json_error(srv.get(f"{C}/frozen"), 503, "frozen", "could not be opened")
            r = srv.post(f"{C}/frozen/documents", {"documents": docs("x", 1)})
            json_error(r, 503, "could not be opened")
            hits = srv.post(f"{C}/live/search", {"query": "doc", "mode": "bm25"}).json()["hits"]
            assert len(hits) == 10
            assert srv.post(f"{C}/live/documents", {"documents": docs("y", 1)}).status_code == 200
        finally:
            srv.stop()
    srv = Server(data).start()  # writable again: nothing was lost
    try:
        assert ids_present(srv, "frozen", [f"frozen{i}" for i in range(20)]) == {
            f"frozen{i}" for i in range(20)
        }
    finally:
        srv.stop()


def test_a_collection_that_failed_to_open_can_be_deleted(tmp_path):
    data = tmp_path / "data"
    root = data / "collections"
    broken = root / "broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{broken")
    (broken / "segments_1").write_bytes(b"kept" * 100)
    srv = Server(data).start()
    try:
        json_error(srv.get(f"{C}/broken"), 503, "broken", "could not be opened")
        # A disk that refuses the removal: a clear error, every file kept, a delete may retry.
        with read_only(root):
            json_error(srv.client_delete(f"{C}/broken"), 507, "broken", "could not be removed")
            assert (broken / "segments_1").read_bytes() == b"kept" * 100
            json_error(srv.get(f"{C}/broken"), 503, "deleting it failed")
            assert "broken" in srv.get("/readyz").json()["failed"]
        assert srv.client_delete(f"{C}/broken").status_code == 204
        assert list(root.iterdir()) == []  # no trash left behind either
        json_error(srv.get(f"{C}/broken"), 404, "broken")
        json_error(srv.client_delete(f"{C}/broken"), 404, "broken")
        assert srv.get("/readyz").status_code == 200
        assert srv.get(C).json()["failed"] == {}
        create_filled(srv, "broken")  # the name is free again, for a working collection
        assert srv.get(f"{C}/broken").json()["documents"] == 20
        # An open collection whose removal the disk refuses: closed, reported, nothing lost.
        with read_only(root):
            json_error(srv.client_delete(f"{C}/broken"), 507, "could not be removed")
            json_error(srv.get(f"{C}/broken"), 503, "deleting it failed")
    finally:
        srv.stop()
    srv = Server(data).start()  # writable again: it opens with every acknowledged document
    try:
        assert len(ids_present(srv, "broken", [f"broken{i}" for i in range(20)])) == 20
        assert srv.client_delete(f"{C}/broken").status_code == 204
        assert list(root.iterdir()) == []
    finally:
        srv.stop()


def test_collection_directory_deleted_under_a_running_server(tmp_path):
    data = tmp_path / "data"
    srv = Server(data).start()
    try:
        create_filled(srv, "doomed", "kept")
        shutil.rmtree(data / "collections" / "doomed")
        r = srv.post(f"{C}/doomed/documents", {"documents": docs("z", 1)})
        json_error(r, 507, "removed")
        r = srv.post(f"{C}/doomed/documents/delete", {"ids": ["doomed1"]})
        json_error(r, 507, "removed")
        # Reads of what is still open keep working, the other collection is untouched.
        r = srv.post(f"{C}/doomed/search", {"query": "doc", "mode": "bm25"})
        assert r.status_code == 200
        assert (
            srv.post(f"{C}/kept/documents", {"documents": docs("kept", 5, start=20)}).status_code
            == 200
        )
        assert len(ids_present(srv, "kept", [f"kept{i}" for i in range(25)])) == 25
        # The vanished collection can be dropped and made anew.
        assert srv.client_delete(f"{C}/doomed").status_code == 204
        create(srv, "doomed")
        assert srv.get(f"{C}/doomed").json()["documents"] == 0
    finally:
        srv.stop()
    check_both_halves(data / "collections" / "kept")


def test_jvm_heap_too_small_for_a_request(tmp_path):
    data = tmp_path / "data"
    srv = Server(data, env={"LUCENE_HYBRID_JVM_HEAP": "64m"}).start()
    try:
        create(srv, "big")
        create(srv, "small")
        assert srv.post(f"{C}/small/documents", {"documents": docs("s", 10)}).status_code == 200
        for batch in range(25):  # 500 documents of 100,000 characters, not all Latin-1
            big = docs("b", 20, 100_000, start=batch * 20, words="lorem ŝtono ĝardeno")
            r = srv.post(f"{C}/big/documents", {"documents": big})
            assert r.status_code == 200, r.text[:1000]
        # Fetching 500 x 100,000 UTF-16 characters needs 100 MB of Java strings: over 64 MB.
        r = srv.post(f"{C}/big/search", {"query": "lorem", "mode": "bm25", "k": 500})
        json_error(r, 503, "memory", "jvm_heap")
        # The server is still up, for that collection (a smaller request) and the others.
        r = srv.post(f"{C}/big/search", {"query": "lorem", "mode": "bm25", "k": 3})
        assert r.status_code == 200 and len(r.json()["hits"]) == 3
        hits = srv.post(f"{C}/small/search", {"query": "doc", "mode": "bm25"}).json()["hits"]
        assert len(hits) == 10
        assert srv.post(f"{C}/small/documents", {"documents": docs("t", 1)}).status_code == 200
    finally:
        srv.stop()
    srv = Server(data).start()
    try:
        assert srv.get(f"{C}/big").json()["documents"] == 500
    finally:
        srv.stop()
