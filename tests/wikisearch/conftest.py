"""Fixtures for the wikisearch example: builds its extension in place once,
generates a small dump and indexes it once per session."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ws_support import DUMP_PAGES, DUMP_SEED, build_extension  # noqa: E402

# If the extension cannot be built (e.g. libdatrie-dev missing), only
# test_ws_build.py is collected, and it fails with the compiler output;
# the rest of the repository's tests are unaffected.
if build_extension():
    collect_ignore_glob = ["test_ws_[!b]*.py"]


@pytest.fixture(scope="session")
def dump(tmp_path_factory):
    from wikisearch import gen
    path = str(tmp_path_factory.mktemp("dump") / "wiki.xml")
    gen.generate(path, pages=DUMP_PAGES, seed=DUMP_SEED, progress=False)
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
def brute(dump_bytes):
    """Pages found by a different method: one regex over the whole file + xml.etree."""
    import re
    import xml.etree.ElementTree as ET
    spans = [(m.start(), m.end()) for m in re.finditer(rb"<page>.*?</page>", dump_bytes, re.S)]
    ns = "{http://www.mediawiki.org/xml/export-0.11/}"
    pages = []
    for (s, e) in spans:
        el = ET.fromstring(dump_bytes[s:e])
        pages.append({
            "start": s, "end": e,
            "title": el.find("title").text,
            "ns": int(el.find("ns").text),
            "redirect": el.find("redirect").get("title") if el.find("redirect") is not None else None,
            "text": el.find("revision/text").text or "",
            "bytes": int(el.find("revision/text").get("bytes")),
            "sha1": el.find("revision/sha1").text,
        })
    # Cross-check with a streaming parse of the whole document.
    titles = [el.text for _, el in ET.iterparse(__import__("io").BytesIO(dump_bytes))
              if el.tag == ns + "title"]
    assert titles == [p["title"] for p in pages]
    return pages


@pytest.fixture(scope="session")
def ref(brute):
    """Brute-force search reference: (title UTF-8 bytes, title, start, end) for every
    page of the dump, sorted by UTF-8 bytes (first page wins for a duplicate title)."""
    seen = {}
    for p in brute:
        seen.setdefault(p["title"].encode("utf-8"), p)
    return sorted((k, p["title"], p["start"], p["end"]) for k, p in seen.items())


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
