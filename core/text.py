"""Small text helpers every room reads files with: gzip or plain UTF-8, BOMs, lone surrogates."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lucene_hybrid.core.errors import CorpusError


def lone_surrogate(value: Any, where: str = "body") -> str | None:
    """Where a parsed JSON value holds a string that is not valid Unicode, or None.

    ``"\\ud800"`` is valid JSON, and ``json`` turns it into a ``str`` holding a lone UTF-16
    surrogate, which no UTF-8 consumer takes: the tokenizers, Lucene's terms and stored fields
    all fail on it, deep in a write or a search. Readers check their input with this first.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            return (
                f"{where}: character {exc.start} is a lone surrogate (\\u{code:04x}); "
                "JSON strings must be valid Unicode text"
            )
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where != "body" else str(key)
            found = lone_surrogate(key, f"{where} key {key!r}") or lone_surrogate(item, inner)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    return None


# A UTF-8 byte order mark: Windows tools (older Notepad, PowerShell 5's `Out-File -Encoding utf8`)
# start files with it. It is not text: the first id or JSON value must not begin with it.
BOM = b"\xef\xbb\xbf"


def is_gzip(path: Path) -> bool:
    """Whether a file starts with gzip's magic bytes (the name is not trusted)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn a truncated or corrupt gzip stream (or an unreadable file) into a CorpusError."""
    try:
        yield
    except (EOFError, OSError, zlib.error) as exc:
        raise CorpusError(
            f"{path}: cannot read past a corrupt or truncated stream ({exc})"
        ) from exc


def open_text(path: Path) -> io.TextIOBase:
    """Open a plain or gzip-compressed UTF-8 text file (chosen by magic bytes, not the name),
    without the byte order mark it may start with."""
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="strict")
    return open(path, encoding="utf-8-sig", errors="strict")  # noqa: SIM115 - caller closes
