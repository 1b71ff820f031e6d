"""wikisearch: Wikipedia instant search over a MediaWiki dump (a pxcy example)."""

__version__ = "0.1.0"
