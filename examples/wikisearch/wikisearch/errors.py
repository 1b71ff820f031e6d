"""Exceptions with one-line messages; the CLI prints them as `wikisearch: error: ...`."""


class WikisearchError(Exception):
    """Base class: every user-facing failure of wikisearch."""


class DumpFormatError(WikisearchError):
    """The input is not a well-formed MediaWiki XML dump."""


class TruncatedDumpError(DumpFormatError):
    """The dump ends before the last <page> or the </mediawiki> root is closed."""


class IndexFormatError(WikisearchError):
    """The index directory is missing, incomplete or of an unknown format."""


class DumpChangedError(IndexFormatError):
    """The dump was modified (size or mtime) after the index was built."""
