"""Streaming corpus readers: MS MARCO tsv, BEIR jsonl, Pyserini JsonCollection, generic jsonl."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.core.text import BOM, is_gzip, lone_surrogate, readable

CorpusFormat = Literal["msmarco", "beir", "pyserini", "jsonl"]
FORMATS: tuple[str, ...] = ("msmarco", "beir", "pyserini", "jsonl")


@dataclass(frozen=True)
class Document:
    """One corpus record, whatever format it came from."""

    docid: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: tuple[float, ...] | None = None


@dataclass(frozen=True)
class JsonlFields:
    """Field names for the generic JSONL reader."""

    id: str = "id"
    text: str = "text"
    metadata: tuple[str, ...] | None = None  # None: every other field becomes metadata
    vector: str | None = None


@dataclass
class ReadStats:
    """Counts kept while reading; ``skipped`` lists (line number, reason) of skipped lines."""

    read: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def detect_format(path: Path) -> CorpusFormat:
    """Guess a corpus format from its first non-empty line.

    Raises:
        CorpusError: when the file is empty or matches no known format.
    """
    opener = gzip.open if is_gzip(path) else open
    with readable(path), opener(path, "rb") as raw:
        for lineno, raw_line in enumerate(raw, start=1):
            if lineno == 1:
                raw_line = raw_line.removeprefix(BOM)
            if raw_line.strip():
                break
        else:
            raise CorpusError(f"{path}: the file is empty")
    line = raw_line.decode("utf-8", errors="replace")
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                f"{path}:{lineno}: first record is not valid JSON ({exc.msg})"
            ) from exc
        if "_id" in record:
            return "beir"
        if "id" in record and "contents" in record:
            return "pyserini"
        return "jsonl"
    if "\t" in line:
        return "msmarco"
    raise CorpusError(
        f"{path}: cannot tell the format (not JSON lines, no tab); pass --format "
        f"one of {', '.join(FORMATS)}"
    )


def _str_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{where} must be a string or integer, got {type(value).__name__}")
    docid = str(value)
    if not docid.strip():
        raise ValueError(f"{where} is empty")
    if "\n" in docid or "\r" in docid:  # hits cross from Lucene one docid per line
        raise ValueError(f"{where} contains a line break")
    return docid


def _parse_msmarco(line: str) -> Document:
    docid, sep, text = line.rstrip("\r\n").partition("\t")
    if not sep:
        raise ValueError("expected 'id<TAB>text'")
    return Document(_str_id(docid, "id"), text)


def _parse_beir(record: dict[str, Any]) -> Document:
    docid = _str_id(record.get("_id"), '"_id"')
    title = record.get("title") or ""
    text = record.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise ValueError('"title" and "text" must be strings')
    metadata = dict(record.get("metadata") or {})
    if title:
        metadata.setdefault("title", title)
    contents = f"{title} {text}" if title else text
    return Document(docid, contents, metadata)


def _parse_pyserini(record: dict[str, Any]) -> Document:
    docid = _str_id(record.get("id"), '"id"')
    contents = record.get("contents")
    if not isinstance(contents, str):
        raise ValueError('"contents" must be a string')
    extra = {k: v for k, v in record.items() if k not in ("id", "contents", "vector")}
    return Document(docid, contents, extra, _vector(record.get("vector")))


def _parse_jsonl(record: dict[str, Any], fields: JsonlFields) -> Document:
    if fields.id not in record:
        raise ValueError(f'no "{fields.id}" field')
    docid = _str_id(record[fields.id], f'"{fields.id}"')
    text = record.get(fields.text, "")
    if not isinstance(text, str):
        raise ValueError(f'"{fields.text}" must be a string')
    skip = {fields.id, fields.text, fields.vector}
    if fields.metadata is None:
        metadata = {k: v for k, v in record.items() if k not in skip}
    else:
        metadata = {k: record[k] for k in fields.metadata if k in record}
    vector = _vector(record.get(fields.vector)) if fields.vector else None
    return Document(docid, text, metadata, vector)


def _vector(value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    ):
        raise ValueError('"vector" must be a list of numbers')
    return tuple(float(x) for x in value)


def read_corpus(
    path: str | Path,
    fmt: CorpusFormat | None = None,
    *,
    fields: JsonlFields | None = None,
    skip_malformed: bool = False,
    stats: ReadStats | None = None,
    unique_ids: bool = False,
) -> Iterator[Document]:
    """Stream documents from a corpus file, one at a time, in constant memory (but for the
    ids seen, with ``unique_ids``).

    Args:
        path: A corpus file, plain or gzip-compressed.
        fmt: One of ``msmarco``, ``beir``, ``pyserini``, ``jsonl``; detected when None.
        fields: Field names for the generic ``jsonl`` format.
        skip_malformed: Skip malformed lines (counted in ``stats``) instead of failing.
        stats: Receives the counts of read and skipped lines.
        unique_ids: A document whose id an earlier line had is malformed (an index keeps one
            document per id: Lucene would hold both, and search and fetch would see either).

    Yields:
        Documents in file order.

    Raises:
        CorpusError: on a missing file, or a malformed line when ``skip_malformed`` is False;
            the message names the file and the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such corpus file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise CorpusError(f"unknown corpus format {fmt!r}; use one of {', '.join(FORMATS)}")
    fields = fields or JsonlFields()
    stats = stats if stats is not None else ReadStats()
    opener = gzip.open if is_gzip(path) else open
    seen: set[str] | None = set() if unique_ids else None
    with readable(path), opener(path, "rb") as fh:
        lines = enumerate(fh, start=1)
        for _, doc in parse_lines(
            path, lines, fmt, fields, skip_malformed=skip_malformed, stats=stats, seen=seen
        ):
            yield doc


def parse_lines(
    path: Path,
    lines: Iterable[tuple[int, bytes]],
    fmt: CorpusFormat,
    fields: JsonlFields,
    *,
    skip_malformed: bool,
    stats: ReadStats,
    seen: set[str] | None = None,
) -> Iterator[tuple[int, Document]]:
    """Parse numbered raw lines of the corpus file ``path`` (any stretch of it: a reader that
    starts part-way gives the lines' true numbers), as :func:`read_corpus` does.

    Yields:
        Each document with the number of its line.

    Args:
        seen: The ids met so far, when a repeated id is malformed (updated here).

    Raises:
        CorpusError: on a malformed line when ``skip_malformed`` is False, naming ``path`` and
            the line number.
    """
    for lineno, raw in lines:
        try:
            line = (raw.removeprefix(BOM) if lineno == 1 else raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 ({exc.reason})"
            if not skip_malformed:
                raise CorpusError(f"{path}:{lineno}: {reason}") from exc
            stats.skipped.append((lineno, reason))
            continue
        if not line.strip():
            continue
        try:
            if fmt == "msmarco":
                doc = _parse_msmarco(line)
            else:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("expected a JSON object")
                if fmt == "beir":
                    doc = _parse_beir(record)
                elif fmt == "pyserini":
                    doc = _parse_pyserini(record)
                else:
                    doc = _parse_jsonl(record, fields)
                # only an escape can make a surrogate: the line itself was strict UTF-8
                if "\\u" in line and (
                    problem := lone_surrogate(doc.docid, "id")
                    or lone_surrogate(doc.text, "text")
                    or lone_surrogate(doc.metadata, "metadata")
                ):
                    raise ValueError(problem)
            if seen is not None:
                if doc.docid in seen:
                    raise ValueError(duplicate_id(doc.docid))
                seen.add(doc.docid)
        except (ValueError, TypeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            if not skip_malformed:
                raise malformed(path, lineno, fmt, reason) from exc
            stats.skipped.append((lineno, reason))
            continue
        stats.read += 1
        yield lineno, doc


def duplicate_id(docid: str) -> str:
    """Why a line whose id an earlier line had is malformed."""
    return f"duplicate id {docid[:80]!r}: an earlier line has it"


def malformed(path: Path, lineno: int, fmt: str, reason: str) -> CorpusError:
    """The error that stops a build at a malformed line (``file:line: reason``)."""
    return CorpusError(
        f"{path}:{lineno}: malformed {fmt} record: {reason} "
        "(fix the line, or pass --skip-malformed to skip and count such lines)"
    )
