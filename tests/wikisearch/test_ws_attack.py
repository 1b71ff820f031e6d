"""Adversarial cases found reviewing the sorted-array index (issue 15): /xml Ranges
that the HTTP layer would ignore (so the whole dump would go out), folding that is
not closed under itself, and a small index of hostile titles checked against the
brute-force reference."""
import os
import unicodedata

import pytest

from test_ws_server import get
import ws_reference as R

HOSTILE = [
    "İstanbul", "Istanbul", "ıstanbul", "istanbul x", "Straße", "STRASSE", "Strasse", "Stra\u1e9ee",
    "\ufb01le", "File", "\ufb00oo", "Café", "Cafe\u0301 noir", "Ca\u0301fe", "한국어", "한국",
    "\u1100\u1161\u11a8", "😀 Smile", "😀", "\U0001F600x", "Tab\there", "A", "AB", "ABC", "abc", "Abc",
    "aBc", "ǅemal", "ǆemal", "Ǆemal", "\ufdfa test", "K Kelvin", "\u212a Kelvin", "Ω ohm", "\u2126 ohm",
    "ŉ", "ʼn", "Ꭰ cherokee", "ꭰ cherokee", "ᏸ", "ϴ theta", "ϑ", "ẞ", "ß", "ſ long s", "\ufb05", "\ufb06",
    "x" * 255, "x" * 254 + "y", "Émile", "Emile", "émile", "\u0345x", "ι x", "İİ", "Ǉ", "ǈ", "ǉ",
    "ᾈ", "ᾀ", "ᾼ", "Ⓐ", "ⓐ", "Ａ full", "ａ full", "\u00a0nbsp", "A\u0328", "Ą", "ª", "µ micro",
    "μ mu", "Μ MU", "ς", "σ", "Σ",
    # compatibility forms whose NFKD is upper-case or folds again (™ -> TM, ℌ -> H,
    # ᴬ -> A, ϲ -> ς -> σ): the key must be folded to a fixed point
    "Foo\u2122 Bar", "\u210cilbert space", "\u1d2cbc modifier", "\u03f2igma lunate", "\u2116 5",
]


def _page_xml(k, title):
    from wikisearch.gen import xml_escape
    return ("  <page>\n    <title>%s</title>\n    <ns>0</ns>\n    <id>%d</id>\n    <revision>\n"
            "      <id>%d</id>\n      <text bytes=\"1\" xml:space=\"preserve\">x</text>\n"
            "    </revision>\n  </page>\n" % (xml_escape(title), k + 1, k + 1))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from wikisearch import gen
    from wikisearch.index import build_index, load_index
    d = tmp_path_factory.mktemp("hostile")
    dump = str(d / "hostile.xml")
    with open(dump, "wb") as f:
        h = gen.header()
        f.write(h.encode() if isinstance(h, str) else h)
        f.write("".join(_page_xml(k, t) for k, t in enumerate(HOSTILE)).encode("utf-8"))
        f.write(gen.FOOTER)
    build_index(dump, str(d / "hostile.index"))
    with open(dump, "rb") as f:
        pages, nss = R.parse_pages(f.read())
    return load_index(str(d / "hostile.index")).open_titles(), R.Reference(pages, nss)


def _prefixes():
    out = set()
    for t in HOSTILE + ["ss", "SS", "fi", "FI", "i", "I", "ı", "k", "σ", "ς", "e\u0301", "é", "dž", "tm", "h"]:
        b = t.encode("utf-8")
        out.update(b[:n] for n in range(1, min(len(b), 24) + 1))
        for c in range(1, min(len(t), 8) + 1):
            for v in (t[:c].upper(), t[:c].lower(), t[:c].casefold(), unicodedata.normalize("NFD", t[:c])):
                out.add(v.encode("utf-8"))
    return sorted(out)


def test_hostile_titles_match_reference(hostile):
    titles, ref = hostile
    bad = []
    for q in _prefixes():
        got = titles.search(q, 0, 1000)
        exp = ref.search(q, 1000, 0)
        if got != exp:
            bad.append((q, [titles.title(a) for a, _ in got], [ref.pages[a]["title"] for a, _ in exp]))
    assert not bad, bad[:5]


@pytest.mark.parametrize("title,typed", [
    ("Foo\u2122 Bar", "footm"), ("Foo\u2122 Bar", "FOO\u2122"), ("\u210cilbert space", "hilbert"),
    ("\u1d2cbc modifier", "abc m"), ("\u1d2cbc modifier", "ABC M"), ("\u03f2igma lunate", "σigma"),
    ("\u2116 5", "no 5"),
])
def test_compatibility_forms_found_by_what_they_look_like(hostile, title, typed):
    # Unicode's compatibility caseless match folds case again after NFKD (D145): a
    # key must not keep an upper-case letter or a character that casefold changes
    titles, _ = hostile
    found = [titles.title(a) for a, _ in titles.search(typed.encode("utf-8"), 0, 1000)]
    assert title in found, (typed, found)


def test_fold_table_is_closed_under_itself():
    from wikisearch import fold
    table = fold.tables()[0]
    bad = [(hex(c), v) for c, v in table.items() if fold.fold(v) != v]
    assert not bad, bad[:10]


@pytest.mark.parametrize("rng", [
    "bytes=5-3",                    # reversed: RFC 9110 says ignore -> would be 200 + whole dump
    "bytes=1x",                     # unparsable after a digit
    "bytes=0-0,abc",
    "bytes=" + ",".join(["0-0"] * 300),   # more parts than the HTTP layer keeps
])
def test_xml_range_that_would_be_ignored_is_refused(live, rng):
    status, h, body = get(live, "/xml", {"Range": rng})
    assert status == 400 and b"Ranged-request required" in body, (rng, status, len(body))


@pytest.mark.parametrize("if_range", ['"nope"', "Mon, 01 Jan 1990 00:00:00 GMT", 'W/"x"'])
def test_xml_if_range_is_refused(live, if_range):
    # the dump has no validator: an If-Range never matches, the Range would be dropped
    status, h, body = get(live, "/xml", {"Range": "bytes=0-10", "If-Range": if_range})
    assert status == 400 and b"Ranged-request required" in body, (if_range, status, len(body))


def test_xml_valid_ranges_still_served(live, dump_bytes):
    status, h, body = get(live, "/xml", {"Range": "bytes=0-0,0-0,0-0"})
    assert status == 206
    status, h, body = get(live, "/xml", {"Range": "bytes=10-19"})
    assert status == 206 and body == dump_bytes[10:20]
    status, h, body = get(live, "/xml", {"Range": "bytes=%d-" % (len(dump_bytes) - 5)})
    assert status == 206 and body == dump_bytes[-5:]


def test_load_refuses_more_workers_than_it_has_states_for(index):
    # workers past MAX_WORKERS had no search state: every /offsets and /wiki got 503
    from wikisearch import server
    with pytest.raises(ValueError, match="workers"):
        server.load(index, b"<html></html>", server.MAX_SERVER_WORKERS + 1)
    with pytest.raises(ValueError, match="workers"):
        server.load(index, b"<html></html>", 0)


def test_serve_too_many_workers_is_a_one_line_error(index):
    from ws_support import run_cli
    from wikisearch import server
    r = run_cli("serve", "--index", index.index_dir, "--port", "0",
                "--workers", str(server.MAX_SERVER_WORKERS + 1))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "at most %d" % server.MAX_SERVER_WORKERS in r.stderr and "Traceback" not in r.stderr


def test_build_refuses_more_namespaces_than_the_server_loads(tmp_path):
    # 70 namespaces used to build fine and then fail at `serve` ("at most 64")
    from wikisearch import gen
    from wikisearch.errors import WikisearchError
    from wikisearch.index import build_index
    h = gen.header()
    body = "".join(_page_xml(k, "T%d" % k).replace("<ns>0</ns>", "<ns>%d</ns>" % (1000 + k))
                   for k in range(70))
    dump = tmp_path / "ns.xml"
    dump.write_bytes((h.encode() if isinstance(h, str) else h) + body.encode() + gen.FOOTER)
    with pytest.raises(WikisearchError, match="namespaces"):
        build_index(str(dump), str(tmp_path / "ns.index"))
    assert sorted(os.listdir(tmp_path)) == ["ns.xml"]      # nothing half-written left


def test_build_dump_without_pages_says_so(tmp_path):
    # a complete dump (siteinfo, </mediawiki>) with no page was reported as truncated
    from wikisearch import gen
    from wikisearch.errors import WikisearchError
    from wikisearch.index import build_index
    h = gen.header()
    dump = tmp_path / "empty.xml"
    dump.write_bytes((h.encode() if isinstance(h, str) else h) + gen.FOOTER)
    with pytest.raises(WikisearchError) as e:
        build_index(str(dump), str(tmp_path / "empty.index"))
    assert "no <page>" in str(e.value) and "truncated" not in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["empty.xml"]


def test_url_title_non_ascii_namespace_first_letter(tmp_path):
    # bgwiki's "Категория": /wiki/категория:Foo (first letter lower case, as MediaWiki
    # accepts) found nothing, only ASCII namespace names were compared case-insensitively
    from wikisearch import gen
    from wikisearch.index import build_index, load_index
    h = gen.header()
    h = (h.decode() if isinstance(h, bytes) else h).replace(">Category<", ">Категория<")
    body = _page_xml(0, "Категория:Страна").replace("<ns>0</ns>", "<ns>14</ns>") + _page_xml(1, "Страна")
    dump = tmp_path / "bg.xml"
    dump.write_bytes(h.encode() + body.encode() + gen.FOOTER)
    build_index(str(dump), str(tmp_path / "bg.index"))
    t = load_index(str(tmp_path / "bg.index")).open_titles()
    for url in ("Категория:Страна", "Категория:_страна", "категория:Страна", "категория:страна"):
        assert t.find_url(url.encode()) == 0, url
    assert t.find_url("страна".encode()) == 1
    assert t.find_url("кАтегория:Страна".encode()) is None      # only the first letter is free
