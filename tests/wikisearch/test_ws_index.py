import bz2
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from wikisearch import index as wi
from wikisearch.errors import DumpChangedError, DumpFormatError, IndexFormatError, TruncatedDumpError


def test_offsets_match_brute_force(index, brute):
    assert index.page_count == len(brute)
    assert index.offsets.dtype == np.uint64 and index.ends.dtype == np.uint64
    assert isinstance(index.offsets, np.memmap)
    assert index.offsets.shape == (len(brute) + 1,) and index.ends.shape == (len(brute),)
    assert [int(x) for x in index.offsets[:-1]] == [p["start"] for p in brute]
    assert [int(x) for x in index.ends] == [p["end"] for p in brute]
    assert int(index.offsets[-1]) == brute[-1]["end"]
    assert np.all(np.diff(index.offsets.astype(np.int64)) > 0)


def test_every_slice_is_exactly_one_page(index, brute, dump_bytes):
    for i, p in enumerate(brute):
        s, e = index.page_range(i)
        chunk = dump_bytes[s:e]
        assert chunk.startswith(b"<page>") and chunk.endswith(b"</page>")
        el = ET.fromstring(chunk)
        assert el.tag == "page" and el.find("title").text == p["title"]
    assert index.read_page(0) == dump_bytes[brute[0]["start"]:brute[0]["end"]]


def test_title_arrays_map_every_title(index, titles, brute, ref):
    assert index.page_count == len(brute)
    for i, p in enumerate(brute):
        assert index.title(i) == p["title"]
        assert int(index.arrays["namespaces"][i]) == p["ns"]
        assert titles.find(p["title"].encode("utf-8")) == ref.first[p["title"]]
        assert int(index.arrays["targets"][i]) == (ref.resolve(i) if ref.first[p["title"]] == i else -1)
    # the two sorted orders, grouped by namespace, ranges in the manifest
    a = index.arrays
    ns = np.asarray(a["namespaces"])
    for k, name, lo, hi in index.namespaces:
        assert set(ns[np.asarray(a["name_order"][lo:hi])]) == {k}
        assert set(ns[np.asarray(a["key_pages"][lo:hi])]) == {k}
    keys = [a["keys"][int(a["key_offsets"][e]):int(a["key_offsets"][e + 1])].tobytes() for e in range(len(brute))]
    assert all(keys[e] <= keys[e + 1] for lo, hi in [(r[2], r[3]) for r in index.namespaces]
               for e in range(lo, hi - 1))


def test_manifest(index, dump, brute):
    m = index.manifest
    st = os.stat(dump)
    assert m["format"] == "wikisearch-index" and m["version"] == wi.FORMAT_VERSION == 2
    assert m["dump"] == os.path.abspath(dump) == index.dump_path
    assert (m["dump_size"], m["dump_mtime_ns"]) == (st.st_size, st.st_mtime_ns)
    assert m["pages"] == index.page_count and m["duplicate_titles"] == 1     # "Duplicate Title"
    assert m["titles"] == len({p["title"] for p in brute})
    assert m["redirects"] == sum(1 for p in brute if p["redirect"])
    assert m["redirects_missing_target"] >= 1                                # "Lost Page"
    assert m["key_encoding"] == wi.KEY_ENCODING
    assert [r[:2] for r in m["namespaces"]] == [[0, ""], [1, "Talk"], [4, "Wikipedia"], [10, "Template"],
                                                [14, "Category"]]
    from wikisearch.titlebuild import FILES
    assert sorted(os.listdir(index.index_dir)) == sorted(FILES + ["ends.npy", "manifest.json", "offsets.npy"])


def test_small_chunks_give_identical_index(dump, index, tmp_path):
    with open(dump, "rb") as f:
        small = list(wi.scan_pages(f, dump, chunk=1000))
    assert [s for s, _, _ in small] == [int(x) for x in index.offsets[:-1]]
    assert [e for _, e, _ in small] == [int(x) for x in index.ends]
    d = str(tmp_path / "idx")
    wi.build_index(dump, d, chunk=4096)
    other = wi.load_index(d)
    assert np.array_equal(other.offsets, index.offsets) and np.array_equal(other.ends, index.ends)
    from wikisearch.titlebuild import FILES
    for name in FILES:
        with open(os.path.join(d, name), "rb") as a, open(os.path.join(index.index_dir, name), "rb") as b:
            assert a.read() == b.read(), name
    wi.build_index(dump, d)                        # rebuild over an existing index
    assert wi.load_index(d).page_count == index.page_count
    assert os.listdir(tmp_path) == ["idx"]         # no temp dirs left behind


def test_title_unescaping_and_duplicates(tmp_path):
    body = ('<mediawiki xmlns="x" version="0.11" xml:lang="en">\n'
            '  <page>\n    <title>A &amp; B &lt;x&gt; &quot;q&quot; &apos;s&apos; &#233;&#x4E2D;</title>\n  </page>\n'
            '  <page>\n    <title>Dup</title>\n  </page>\n'
            '  <page>\n    <title>Dup</title>\n  </page>\n'
            '  <page>\n    <title>Talk:Old dump</title>\n  </page>\n'
            '</mediawiki>\n')
    p = tmp_path / "w.xml"
    p.write_text(body, encoding="utf-8")
    res = wi.build_index(str(p), str(tmp_path / "i"))
    assert (res.pages, res.titles, res.duplicates) == (4, 3, 1)
    ix = wi.load_index(str(tmp_path / "i"))
    t = ix.open_titles()
    assert t.find("A & B <x> \"q\" 's' é中".encode()) == 0
    assert t.find(b"Dup") == 1                      # first occurrence wins
    assert t.search(b"dup") == [(1, 1)]
    # no <siteinfo>, no <ns>: everything is namespace 0
    assert [r[0] for r in ix.namespaces] == [0] and t.search(b"talk:o") == [(3, 3)]


def test_redirect_targets_are_normalized(tmp_path):
    body = ('<mediawiki xmlns="x" version="0.11" xml:lang="en">\n<siteinfo><namespaces>'
            '<namespace key="0" case="first-letter" /><namespace key="14" case="first-letter">Category</namespace>'
            '</namespaces></siteinfo>\n'
            '  <page><title>Target page</title><ns>0</ns><revision><text>x</text></revision></page>\n'
            '  <page><title>R1</title><ns>0</ns><redirect title="target_page#Section" /></page>\n'
            '  <page><title>R2</title><ns>0</ns><redirect title=" Target page " /></page>\n'
            '  <page><title>Category:Things</title><ns>14</ns></page>\n'
            '  <page><title>R3</title><ns>0</ns><redirect title="category:things" /></page>\n'
            '  <page><title>R4</title><ns>0</ns><redirect title="" /></page>\n'
            '  <page><title>R5</title><ns>0</ns><redirect title="R5" /></page>\n'
            '  <page><title>R6</title><ns>0</ns><revision><redirect title="Target page" /></revision></page>\n'
            '</mediawiki>\n')
    p = tmp_path / "w.xml"
    p.write_text(body, encoding="utf-8")
    wi.build_index(str(p), str(tmp_path / "i"))
    ix = wi.load_index(str(tmp_path / "i"))
    assert list(ix.arrays["targets"]) == [0, 0, 0, 3, 3, 5, 6, 7]      # R6: <redirect> outside the head
    assert ix.manifest["redirects"] == 5 and ix.manifest["redirects_missing_target"] == 2


def _write(tmp_path, data, name="w.xml"):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("data, exc, words", [
    (b"<html><body>hello</body></html>", DumpFormatError, "not a MediaWiki XML dump"),
    (b"", DumpFormatError, "empty file"),
    (bz2.compress(b"<mediawiki>"), DumpFormatError, "bzip2"),
    (b"<mediawiki>\n</mediawiki>\n", DumpFormatError, "no <page>"),
    (b"<mediawiki>\n<page><title>A</title></page>\n", TruncatedDumpError, "truncated"),
    (b"<mediawiki>\n<page><title>A</title></page>\n</mediawiki>\njunk", DumpFormatError, "after </mediawiki>"),
    (b"<mediawiki>\n<page><title>A</title></page>\njunk\n<page><title>B</title></page></mediawiki>",
     DumpFormatError, "between pages"),
    (b"<mediawiki>\n<page><title>A</title>\n<page><title>B</title></page></mediawiki>",
     DumpFormatError, "not closed before the next"),
    (b"<mediawiki>\n<page><ns>0</ns><title>A</title></page></mediawiki>", DumpFormatError, "<title>"),
    (b"<mediawiki>\n<page><title>A &bogus; B</title></page></mediawiki>", DumpFormatError, "entity"),
    (b"<mediawiki>\n<page><title>A & B</title></page></mediawiki>", DumpFormatError, "&"),
    (b"<mediawiki>\n<page><title>A&#0;</title></page></mediawiki>", DumpFormatError, "reference"),
    (b"<mediawiki>\n<page><title>\xff\xfe</title></page></mediawiki>", DumpFormatError, "UTF-8"),
    (b"<mediawiki>\n<page><title></title></page></mediawiki>", DumpFormatError, "empty title"),
])
def test_malformed_dumps(tmp_path, data, exc, words):
    p = _write(tmp_path, data)
    with pytest.raises(exc) as ei:
        wi.build_index(p, str(tmp_path / "i"))
    msg = str(ei.value)
    assert words in msg and "\n" not in msg
    assert os.listdir(tmp_path) == ["w.xml"]        # nothing half-written


def test_truncated_real_dump(tmp_path, dump_bytes, brute):
    mid = brute[len(brute) // 2]
    cut = (mid["start"] + mid["end"]) // 2          # in the middle of a page
    p = _write(tmp_path, dump_bytes[:cut])
    with pytest.raises(TruncatedDumpError, match="page %d starting at byte %d is never closed"
                       % (len(brute) // 2, mid["start"])):
        wi.build_index(p, str(tmp_path / "i"))
    p = _write(tmp_path, dump_bytes[:brute[-1]["end"] + 3])     # cut before </mediawiki>
    with pytest.raises(TruncatedDumpError, match="no closing </mediawiki>"):
        wi.build_index(p, str(tmp_path / "i"))
    assert os.listdir(tmp_path) == ["w.xml"]


def test_missing_and_bad_paths(tmp_path):
    from wikisearch.errors import WikisearchError
    with pytest.raises(WikisearchError, match="no such file"):
        wi.build_index(str(tmp_path / "nope.xml"))
    with pytest.raises(WikisearchError, match="is a directory"):
        wi.build_index(str(tmp_path))
    p = _write(tmp_path, b"<mediawiki>\n<page><title>A</title></page>\n</mediawiki>\n")
    (tmp_path / "notidx").mkdir()
    (tmp_path / "notidx" / "precious.txt").write_text("x")
    with pytest.raises(WikisearchError, match="refusing to replace"):
        wi.build_index(p, str(tmp_path / "notidx"))
    with pytest.raises(IndexFormatError, match="index not found"):
        wi.load_index(str(tmp_path / "missing"))
    with pytest.raises(IndexFormatError, match="not a wikisearch index"):
        wi.load_index(str(tmp_path / "notidx"))


def test_dump_modified_after_indexing(tmp_path, dump_bytes):
    p = _write(tmp_path, dump_bytes)
    d = str(tmp_path / "i")
    wi.build_index(p, d)
    wi.load_index(d)
    with open(p, "r+b") as f:                       # same size, new mtime
        f.seek(100)
        f.write(b"X")
    os.utime(p, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns + 10**9))
    with pytest.raises(DumpChangedError) as ei:
        wi.load_index(d)
    assert str(ei.value).startswith("dump changed since indexing; rebuild with: wikisearch build ")
    os.unlink(p)
    with pytest.raises(DumpChangedError, match="dump not found"):
        wi.load_index(d)


def test_corrupt_index_files(tmp_path, index):
    d = tmp_path / "copy"
    shutil.copytree(index.index_dir, d)
    np.save(str(d / "ends.npy"), np.zeros(3, dtype=np.uint64))
    with pytest.raises(IndexFormatError, match="expected uint64"):
        wi.load_index(str(d))
    m = json.loads((d / "manifest.json").read_text())
    m["version"] = 999
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="unsupported index version"):
        wi.load_index(str(d))


def test_bz2_input(tmp_path):
    from wikisearch import gen
    plain = tmp_path / "plain" / "wiki.xml"
    plain.parent.mkdir()
    gen.generate(str(plain), pages=300, seed=11, progress=False)
    data = plain.read_bytes()
    ref = wi.load_index(wi.build_index(str(plain)).index_dir)
    src = tmp_path / "wiki.xml.bz2"
    src.write_bytes(bz2.compress(data, 1))
    res = wi.build_index(str(src))
    assert res.dump_path == str(tmp_path / "wiki.xml")
    assert res.index_dir == str(tmp_path / "wiki.index")
    assert (tmp_path / "wiki.xml").read_bytes() == data
    got = wi.load_index(res.index_dir)
    assert np.array_equal(got.offsets, ref.offsets) and np.array_equal(got.ends, ref.ends)
    assert sorted(os.listdir(tmp_path)) == ["plain", "wiki.index", "wiki.xml", "wiki.xml.bz2"]
    wi.build_index(str(src))                          # reuses the decompressed file
    bad = tmp_path / "bad.xml.bz2"
    bad.write_bytes(bz2.compress(data, 1)[:20000])
    with pytest.raises(DumpFormatError, match="corrupt or truncated bzip2"):
        wi.build_index(str(bad))
    assert not os.path.exists(tmp_path / "bad.xml")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
