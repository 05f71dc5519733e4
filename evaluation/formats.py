"""Topic and qrels files: tsv, BEIR jsonl/tsv, TREC 4-column, and TREC/Anserini SGML topics."""

from __future__ import annotations

import re
from pathlib import Path

from lucene_hybrid.core.errors import CorpusError
from lucene_hybrid.core.text import open_text
from lucene_hybrid.evaluation.topics import read_topics as read_tsv_or_jsonl_topics

Qrels = dict[str, dict[str, int]]

_DOC_TOPIC = re.compile(r"<DOC>\s*<DOCNO>\s*(\S+)\s*</DOCNO>(.*?)</DOC>", re.S | re.I)
_TOP_NUM = re.compile(r"<num>\s*(?:Number:)?\s*(\S+)", re.I)
_TOP_TITLE = re.compile(r"<title>\s*(?:Topic:)?\s*(.*?)\s*(?=<desc>|<narr>|</top>|$)", re.S | re.I)


def read_topics(path: str | Path) -> dict[str, str]:
    """Topics as ``{qid: text}`` from any supported format, detected from the content.

    Formats: ``qid<TAB>text`` tsv and BEIR ``queries.jsonl`` (plain or .gz); TREC ``<top>``
    files (``<num>``, ``<title>``); and CACM-style ``<DOC><DOCNO>`` topics as Anserini reads them.

    Raises:
        CorpusError: on a missing file, or when no topic can be read.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such topics file")
    with open_text(path) as fh:
        text = fh.read()
    head = text.lstrip()[:200].lower()
    if head.startswith("<doc>"):
        topics = {m.group(1): " ".join(m.group(2).split()) for m in _DOC_TOPIC.finditer(text)}
    elif head.startswith("<top>"):
        topics = {}
        for block in re.split(r"</top>", text, flags=re.I):
            num, title = _TOP_NUM.search(block), _TOP_TITLE.search(block)
            if num and title:
                topics[num.group(1)] = " ".join(title.group(1).split())
    else:
        return read_tsv_or_jsonl_topics(path)
    if not topics:
        raise CorpusError(f"{path}: no topics found")
    return topics


def read_qrels(path: str | Path) -> Qrels:
    """Judgments as ``{qid: {docid: grade}}`` (graded labels kept, for nDCG).

    Formats: TREC ``qid iter docid rel`` and BEIR ``query-id<TAB>corpus-id<TAB>score`` (with
    its header line).

    Raises:
        CorpusError: on a missing file or a malformed line (with its number).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such qrels file")
    qrels: Qrels = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts or (lineno == 1 and parts[0] == "query-id"):
                continue
            try:
                if len(parts) == 4:
                    qid, _, docid, rel = parts
                elif len(parts) == 3:
                    qid, docid, rel = parts
                else:
                    raise ValueError
                qrels.setdefault(qid, {})[docid] = int(float(rel))
            except ValueError:
                raise CorpusError(
                    f"{path}:{lineno}: expected 'qid Q0 docid rel' or 'qid<TAB>docid<TAB>rel'"
                ) from None
    if not qrels:
        raise CorpusError(f"{path}: no judgments found")
    return qrels
