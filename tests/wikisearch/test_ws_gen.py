import hashlib
import os
import xml.etree.ElementTree as ET

import pytest

from wikisearch import gen

NS = "{http://www.mediawiki.org/xml/export-0.11/}"


# This module checks the generator alone: its own dump, without the CASES pages
# that conftest's session dump appends.
@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    from ws_support import DUMP_PAGES, DUMP_SEED
    path = str(tmp_path_factory.mktemp("gen") / "wiki.xml")
    gen.generate(path, pages=DUMP_PAGES, seed=DUMP_SEED, progress=False)
    return path


@pytest.fixture(scope="module")
def dump_bytes(dump):
    with open(dump, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def brute(dump_bytes):
    from ws_reference import parse_pages
    return parse_pages(dump_bytes)[0]


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_deterministic(tmp_path):
    a, b, c = (str(tmp_path / n) for n in ("a.xml", "b.xml", "c.xml"))
    gen.generate(a, pages=400, seed=3, progress=False)
    gen.generate(b, pages=400, seed=3, progress=False)
    gen.generate(c, pages=400, seed=4, progress=False)
    assert _sha256(a) == _sha256(b)
    assert _sha256(a) != _sha256(c)
    assert sorted(os.listdir(tmp_path)) == ["a.xml", "b.xml", "c.xml"]  # no temp files left


def test_document_structure(dump):
    root = None
    n = 0
    for ev, el in ET.iterparse(dump, events=("start", "end")):
        if ev == "start" and root is None:
            root = el
        if ev == "end" and el.tag == NS + "page":
            n += 1
            el.clear()
    assert root.tag == NS + "mediawiki"
    assert root.get("version") == "0.11"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    site = root.find(NS + "siteinfo")
    for tag in ("sitename", "dbname", "base", "generator", "case"):
        assert site.find(NS + tag).text
    keys = {int(e.get("key")) for e in site.find(NS + "namespaces")}
    assert {0, 1, 4, 10, 14} <= keys
    from ws_support import DUMP_PAGES
    assert n == DUMP_PAGES


def test_page_content(brute):
    titles = [p["title"] for p in brute]
    assert len(set(titles)) == len(titles), "titles must be unique"
    redirects = [p for p in brute if p["redirect"]]
    assert 0.07 < len(redirects) / len(brute) < 0.13
    for p in redirects:
        assert p["text"].startswith("#REDIRECT [[%s]]" % p["redirect"])
        assert p["redirect"] in set(titles)
    prefixes = {1: "Talk:", 4: "Wikipedia:", 10: "Template:", 14: "Category:"}
    seen_ns = {p["ns"] for p in brute}
    assert {0, 1, 4, 10, 14} <= seen_ns
    for p in brute:
        if p["ns"] in prefixes:
            assert p["title"].startswith(prefixes[p["ns"]])
        else:
            assert ":" not in p["title"]
        raw = p["text"].encode("utf-8")
        assert p["bytes"] == len(raw)
        assert p["sha1"] == gen.sha1_base36(raw)
    assert any(not t.isascii() for t in titles)
    scripts = set()
    for t in titles:
        for ch in t:
            o = ord(ch)
            scripts.add("latin1" if 0x80 <= o < 0x250 else "greek" if 0x370 <= o < 0x400 else
                        "cyrillic" if 0x400 <= o < 0x530 else "cjk" if 0x3040 <= o < 0xA000 else None)
    assert {"latin1", "greek", "cyrillic", "cjk"} <= scripts
    assert any(any(c in t for c in "&\"'") for t in titles)
    assert any(ch.isdigit() for t in titles for ch in t)
    sizes = sorted(p["bytes"] for p in brute)
    assert sizes[0] < 20 and sizes[-1] > 50_000
    assert 1500 < sum(sizes) / len(sizes) < 6000


def test_escaping_and_script_pages(brute, dump_bytes):
    page0 = brute[0]
    assert page0["title"] == gen.SCRIPT_TEST_TITLE
    assert gen.SCRIPT_SNIPPET in page0["text"]
    assert sum(gen.SCRIPT_SNIPPET in p["text"] for p in brute) >= 2
    assert b"<script>" not in dump_bytes
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in dump_bytes
    assert b"<title>AT&amp;T &quot;Quotes&quot; &amp; Ampersands (test page)</title>" in dump_bytes
    assert any("<ref>" in p["text"] and "&" in p["text"] for p in brute)


def test_no_partial_output_on_error(tmp_path, monkeypatch):
    out = tmp_path / "x.xml"

    def boom(pages, seed, short=False):
        yield gen.header()
        raise KeyboardInterrupt

    monkeypatch.setattr(gen, "iter_pages", boom)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(str(out), pages=10, progress=False)
    assert os.listdir(tmp_path) == []


def test_short_pages(tmp_path, brute):
    """--short (scale runs): the same titles, namespaces and redirects, one-line texts."""
    from ws_reference import parse_pages
    from ws_support import DUMP_PAGES, DUMP_SEED
    a, b = str(tmp_path / "a.xml"), str(tmp_path / "b.xml")
    gen.generate(a, pages=DUMP_PAGES, seed=DUMP_SEED, progress=False, short=True)
    gen.generate(b, pages=DUMP_PAGES, seed=DUMP_SEED, progress=False, short=True)
    assert _sha256(a) == _sha256(b)
    with open(a, "rb") as f:
        pages = parse_pages(f.read())[0]
    assert [p["title"] for p in pages] == [p["title"] for p in brute]
    assert [p["ns"] for p in pages] == [p["ns"] for p in brute]
    assert sum(1 for p in pages if p["redirect"]) / len(pages) > 0.07
    for p in pages:
        assert p["bytes"] == len(p["text"].encode("utf-8")) and p["bytes"] < 1000
        assert p["sha1"] == gen.sha1_base36(p["text"].encode("utf-8"))
