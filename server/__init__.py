"""The read path of lucene-hybrid: Lucene searchers, fusion, CLI and evaluation helpers."""
