"""A collection's size is read while merges and deletes remove its files and folders: what
vanishes counts as 0 and the rest is still counted, never an error (a 500 on the collection
list and describe routes, found by tests/server/test_delete_race.py)."""

from __future__ import annotations

import os
import shutil

from lucene_hybrid.server.collection import tree_bytes


def _tree(root):
    for i, name in enumerate(["a", "b", "c"]):
        (root / name / "inner").mkdir(parents=True)
        (root / name / "inner" / "seg").write_bytes(b"x" * (10 ** (i + 1)))
    (root / "top").write_bytes(b"y" * 7)


def test_counts_every_file(tmp_path):
    _tree(tmp_path)
    assert tree_bytes(tmp_path) == 7 + 10 + 100 + 1000


def test_a_folder_removed_mid_walk_counts_as_empty(tmp_path, monkeypatch):
    _tree(tmp_path)
    real = os.scandir  # shutil.rmtree lists by file descriptor (an int): passed through

    def scandir_after_a_delete(path):  # the walk reaches b just after a delete removed it
        if not isinstance(path, int) and os.path.basename(os.fspath(path)) == "b":
            shutil.rmtree(path, ignore_errors=True)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir_after_a_delete)
    assert tree_bytes(tmp_path) == 7 + 10 + 1000


def test_the_whole_tree_removed_mid_walk_is_not_an_error(tmp_path, monkeypatch):
    _tree(tmp_path)
    real = os.scandir

    def scandir_after_the_collection_went(path):
        if not isinstance(path, int) and os.fspath(path) != os.fspath(tmp_path):
            shutil.rmtree(tmp_path, ignore_errors=True)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir_after_the_collection_went)
    assert tree_bytes(tmp_path) in (0, 7)  # "top" counts if it was reached before the delete
    assert not tmp_path.exists()
    assert tree_bytes(tmp_path / "never-there") == 0
