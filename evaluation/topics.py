"""Topic (query) files: BEIR queries.jsonl and ``qid<TAB>text`` tsv, plain or gzip."""

from __future__ import annotations

import json
from pathlib import Path

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.core.text import lone_surrogate, open_text


def read_topics(path: str | Path) -> dict[str, str]:
    """Read a topic file into ``{qid: query}``, keeping file order.

    Raises:
        CorpusError: on a missing file or a malformed line (with its line number).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such topics file")
    topics: dict[str, str] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                try:
                    record = json.loads(line)
                    qid, text = str(record["_id"]), record["text"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise CorpusError(
                        f'{path}:{lineno}: expected a BEIR query {{"_id", "text"}}'
                    ) from exc
                problem = lone_surrogate(qid, "_id") or lone_surrogate(text, "text")
                if problem:
                    raise CorpusError(f"{path}:{lineno}: {problem}")
            else:
                qid, sep, text = line.rstrip("\r\n").partition("\t")
                if not sep:
                    raise CorpusError(f"{path}:{lineno}: expected 'qid<TAB>query text'")
            topics[qid.strip()] = text
    if not topics:
        raise CorpusError(f"{path}: no topics found")
    return topics
