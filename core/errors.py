"""Domain errors of lucene-hybrid; the CLI and API map them to messages and status codes."""

from __future__ import annotations


class LuceneHybridError(Exception):
    """Base class: every message says what went wrong and what to do next."""


class JvmError(LuceneHybridError):
    """No usable Java, or the JVM failed to start."""


class CorpusError(LuceneHybridError):
    """A corpus file is missing, of an unknown format, or has a malformed record."""


class EncoderError(LuceneHybridError):
    """An encoder cannot be loaded or failed to embed."""


class EncoderUnavailable(EncoderError):
    """A remote embedding service could not be reached, or failed or misbehaved (after the
    client's retries): nothing in the request was wrong, and it may succeed later."""


class ManifestError(LuceneHybridError):
    """An index directory has no valid manifest, or it does not match the request."""


class IndexBuildError(LuceneHybridError):
    """A Lucene index build failed; the target directory was left untouched."""


class PartUnavailable(LuceneHybridError):
    """A part of a collection (a shard) did not answer in time: its process is restarting or
    its node is gone. Nothing partial was returned; the same request may succeed shortly."""

    retry_after_s = 5
