"""Fixtures for the wikisearch example: builds its extension in place once,
generates a small dump and indexes it once per session."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ws_support import DUMP_PAGES, DUMP_SEED, build_extension  # noqa: E402

# If the extension cannot be built (e.g. no compiler), only
# test_ws_build.py is collected, and it fails with the compiler output;
# the rest of the repository's tests are unaffected.
if build_extension():
    collect_ignore_glob = ["test_ws_[!b]*.py"]


@pytest.fixture(scope="session")
def dump(tmp_path_factory):
    """The generated dump (DUMP_PAGES pages) + ws_reference.CASES appended."""
    from ws_reference import write_test_dump
    path = str(tmp_path_factory.mktemp("dump") / "wiki.xml")
    write_test_dump(path, DUMP_PAGES, DUMP_SEED)
    return path


@pytest.fixture(scope="session")
def dump_bytes(dump):
    with open(dump, "rb") as f:
        return f.read()


@pytest.fixture(scope="session")
def index(dump, tmp_path_factory):
    from wikisearch.index import build_index, load_index
    d = str(tmp_path_factory.mktemp("idx") / "wiki.index")
    build_index(dump, d)
    return load_index(d)


@pytest.fixture(scope="session")
def parsed(dump_bytes):
    from ws_reference import parse_pages
    return parse_pages(dump_bytes)


@pytest.fixture(scope="session")
def brute(parsed):
    """Pages found by a different method: one regex over the whole file + xml.etree."""
    return parsed[0]


@pytest.fixture(scope="session")
def ref(parsed):
    """Brute-force search reference (ws_reference.Reference): a list of (title UTF-8
    bytes, title, start, end) sorted by bytes (first page of a duplicate title), + search()."""
    from ws_reference import Reference
    return Reference(*parsed)


@pytest.fixture(scope="session")
def titles(index):
    """The nogil query object over the session index."""
    return index.open_titles()


@pytest.fixture(scope="session")
def live(index):
    """The real server, in this process: wikisearch.server.load() + pxcy.Server with
    2 workers on an ephemeral port. Yields the base URL ("http://127.0.0.1:PORT")."""
    import pxcy
    from ws_support import PKG
    from wikisearch import server
    with open(os.path.join(PKG, "static", "index.html"), "rb") as f:
        html = f.read()
    server.load(index, html, 2)
    srv = pxcy.Server(server.WikiSearch(), "127.0.0.1", 0, workers=2)
    srv.start()
    try:
        yield "http://127.0.0.1:%d" % srv.port
    finally:
        srv.stop()
        server.unload()
