"""The `lucene-hybrid` command line: it parses arguments and calls the rooms below it."""

from __future__ import annotations

from lucene_hybrid.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
