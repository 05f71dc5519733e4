"""Corpus readers: every format, plain and gzip, detection, malformed lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.indexing.corpus import JsonlFields, ReadStats, detect_format, read_corpus


def write(path: Path, lines: list[str], gz: bool = False) -> Path:
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_msmarco_tsv(tmp_path, gz):
    path = write(tmp_path / "collection.tsv", ["0\tThe first passage.", "7\ttab\tinside text"], gz)
    docs = list(read_corpus(path))
    assert [(d.docid, d.text) for d in docs] == [
        ("0", "The first passage."),
        ("7", "tab\tinside text"),
    ]
    assert detect_format(path) == "msmarco"


@pytest.mark.parametrize("gz", [False, True])
def test_beir_title_and_text_joined(tmp_path, gz):
    rows = [
        {"_id": "a", "title": "Title A", "text": "Body a.", "metadata": {"year": 2001}},
        {"_id": 5, "title": "", "text": "No title."},
    ]
    path = write(tmp_path / "corpus.jsonl", [json.dumps(r) for r in rows], gz)
    docs = list(read_corpus(path))
    assert detect_format(path) == "beir"
    assert docs[0].docid == "a" and docs[0].text == "Title A Body a."
    assert docs[0].metadata == {"year": 2001, "title": "Title A"}
    assert docs[1].docid == "5" and docs[1].text == "No title."


def test_pyserini_extra_fields_become_metadata(tmp_path):
    path = write(
        tmp_path / "docs.jsonl", [json.dumps({"id": "d1", "contents": "hello", "lang": "en"})]
    )
    (doc,) = read_corpus(path)
    assert detect_format(path) == "pyserini"
    assert (doc.docid, doc.text, doc.metadata) == ("d1", "hello", {"lang": "en"})


def test_generic_jsonl_with_configured_fields(tmp_path):
    row = {"pid": "x1", "body": "some text", "tag": "t", "other": 1, "emb": [1, 0, 0]}
    path = write(tmp_path / "g.jsonl", [json.dumps(row)])
    fields = JsonlFields(id="pid", text="body", metadata=("tag",), vector="emb")
    (doc,) = read_corpus(path, "jsonl", fields=fields)
    assert doc.docid == "x1" and doc.text == "some text"
    assert doc.metadata == {"tag": "t"}
    assert doc.vector == (1.0, 0.0, 0.0)


def test_malformed_line_is_an_error_with_file_and_line(tmp_path):
    path = write(
        tmp_path / "c.jsonl",
        [
            json.dumps({"_id": "a", "text": "ok"}),
            "{not json",
            json.dumps({"_id": "b", "text": "ok"}),
        ],
    )
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: malformed beir record"):
        list(read_corpus(path))


def test_malformed_lines_skipped_and_counted_when_asked(tmp_path):
    lines = [
        json.dumps({"_id": "a", "text": "ok"}),
        "{not json",
        json.dumps({"text": "no id"}),
        json.dumps({"_id": "b", "text": "ok"}),
    ]
    path = write(tmp_path / "c.jsonl", lines)
    stats = ReadStats()
    docs = list(read_corpus(path, skip_malformed=True, stats=stats))
    assert [d.docid for d in docs] == ["a", "b"]
    assert stats.read == 2
    assert [line for line, _ in stats.skipped] == [2, 3]


def test_an_id_with_a_line_break_is_a_malformed_line(tmp_path):
    """Searches read hits back one docid per line: an id with a line break is refused up front;
    other separators (tab, U+2028) are ids like any other."""
    lines = [
        json.dumps({"_id": "tab\tand\u2028sep", "text": "ok"}),
        json.dumps({"_id": "two\nlines", "text": "bad"}),
        json.dumps({"_id": "carriage\rreturn", "text": "bad"}),
    ]
    path = write(tmp_path / "c.jsonl", lines)
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: .*contains a line break"):
        list(read_corpus(path))
    stats = ReadStats()
    docs = list(read_corpus(path, skip_malformed=True, stats=stats))
    assert [d.docid for d in docs] == ["tab\tand\u2028sep"]
    assert [line for line, _ in stats.skipped] == [2, 3]


def test_a_repeated_id_is_a_malformed_line_when_ids_must_be_unique(tmp_path):
    """An index keeps one document per id (Lucene would hold both, and a search or a fetch
    would see either): an index build reads with ``unique_ids``, and the first one stays."""
    lines = [
        "d1\tfirst",
        "d2\tother",
        "d1\tsecond",
        "D1\tcase differs: another id",
        "d1\tthird",
    ]
    path = write(tmp_path / "c.tsv", lines)
    assert [d.docid for d in read_corpus(path, "msmarco")] == ["d1", "d2", "d1", "D1", "d1"]
    with pytest.raises(CorpusError, match=r"c\.tsv:3: .*duplicate id 'd1': an earlier line"):
        list(read_corpus(path, "msmarco", unique_ids=True))
    stats = ReadStats()
    docs = list(read_corpus(path, "msmarco", skip_malformed=True, stats=stats, unique_ids=True))
    assert [(d.docid, d.text) for d in docs] == [
        ("d1", "first"),
        ("d2", "other"),
        ("D1", "case differs: another id"),
    ]
    assert [line for line, _ in stats.skipped] == [3, 5] and stats.read == 3


def test_a_lone_surrogate_escape_is_a_malformed_line_naming_the_field(tmp_path):
    """A "\\ud800" escape is valid JSON but not text: the reader refuses it, where the encoder
    and Lucene would fail mid-build; an escaped surrogate pair (an emoji) is text and passes."""
    lines = [
        json.dumps({"_id": "pair", "text": "rocket \U0001f680"}),  # json writes \ud83d\ude80
        json.dumps({"_id": "a", "text": "lone \ud800 high"}),
        json.dumps({"_id": "b", "text": "ok", "metadata": {"k": ["x", "\udc01"]}}),
        json.dumps({"_id": "c\udfff", "text": "ok"}),
    ]
    assert "\\ud83d\\ude80" in lines[0]
    path = write(tmp_path / "c.jsonl", lines)
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: .*text: character 5 is a lone surrogate"):
        list(read_corpus(path))
    stats = ReadStats()
    docs = list(read_corpus(path, skip_malformed=True, stats=stats))
    assert [d.docid for d in docs] == ["pair"] and docs[0].text == "rocket \U0001f680"
    reasons = dict(stats.skipped)
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[3].startswith("metadata.k[1]:") and reasons[4].startswith("id:")


def test_msmarco_line_without_tab_is_malformed(tmp_path):
    path = write(tmp_path / "c.tsv", ["1\tfine", "no tab here"])
    with pytest.raises(CorpusError, match=r":2: malformed msmarco"):
        list(read_corpus(path))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("collection.tsv", ["0\tThe first passage.", "7\tThe second."]),
        ("corpus.jsonl", [json.dumps({"_id": "a", "text": "Body a."}), json.dumps({"_id": "b"})]),
        ("docs.jsonl", [json.dumps({"id": "a", "contents": "Body a.", "year": 2001})]),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_first_record(tmp_path, gz, name, lines):
    """Windows tools start UTF-8 files with U+FEFF: the file reads as it does without one (not
    as an undetectable format, nor with a first id that starts with U+FEFF)."""
    plain = write(tmp_path / name, lines, gz)
    marked = write(tmp_path / f"bom-{name}", ["\ufeff" + lines[0], *lines[1:]], gz)
    assert detect_format(marked) == detect_format(plain)
    assert list(read_corpus(marked)) == list(read_corpus(plain))


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes(b"1\tfine\n2\tbad \xff byte\n")
    with pytest.raises(CorpusError, match=r":2: not valid UTF-8"):
        list(read_corpus(path))


def test_missing_and_undetectable_files(tmp_path):
    with pytest.raises(CorpusError, match="no such corpus file"):
        list(read_corpus(tmp_path / "nope.jsonl"))
    path = write(tmp_path / "plain.txt", ["just words"])
    with pytest.raises(CorpusError, match="cannot tell the format"):
        list(read_corpus(path))


def test_reader_is_lazy(tmp_path):
    """Streaming: the first document arrives before a later malformed line is read."""
    path = write(tmp_path / "c.tsv", ["1\tfirst"] + ["x"] * 3)
    it = read_corpus(path)
    assert next(it).docid == "1"
    with pytest.raises(CorpusError):
        next(it)
