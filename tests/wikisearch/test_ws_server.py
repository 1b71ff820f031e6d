"""The real wikisearch server (wikisearch.server.WikiSearch on pxcy, 2 workers, in
this process) over real sockets on 127.0.0.1, every answer checked against a
brute-force reference computed from the session dump (conftest: `brute`, `ref`)."""
import asyncio
import http.client
import json
import os
import random
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from ws_support import PKG, expected

MAX_LIMIT = 1000
DEFAULT_LIMIT = 20


def q(s):
    """Percent-encode a title or prefix (str or UTF-8 bytes) for a path segment."""
    return urllib.parse.quote(s, safe="")


def get(base, path, headers=None, method="GET"):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def get_json(base, path):
    status, h, body = get(base, path)
    assert h["content-type"].startswith("application/json"), (path, h)
    return status, json.loads(body)


def articles(ref):
    """ref entries of ns-0 pages that are not redirects (their title finds them)."""
    return [r for r in ref if ref.pages[ref.first[r[1]]]["ns"] == 0
            and ref.pages[ref.first[r[1]]]["redirect"] is None]


def check_page(body, dump_bytes, start, end, title):
    assert body == dump_bytes[start:end]
    el = ET.fromstring(body)
    assert el.tag == "page" and el.find("title").text == title


# --------------------------------------------------------------- 200 clients

async def _read_response(reader):
    line = await reader.readline()
    assert line.startswith(b"HTTP/1.1 "), line
    status = int(line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    assert "content-length" in headers, headers
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def _request(reader, writer, port, path, extra=""):
    writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (path, port, extra)).encode("ascii"))
    await writer.drain()
    return await _read_response(reader)


def _prefix_of(title, rng):
    return title[:rng.randint(1, 3)]


def _encode_prefix(prefix, rng):
    # Mostly the usual encoding; sometimes every byte as %XX (unreserved ones too).
    if rng.random() < 0.2:
        return "".join("%%%02X" % b for b in prefix.encode("utf-8"))
    return q(prefix)


async def _client(k, port, ref, articles, non_ascii, dump_bytes, barrier, counts):
    rng = random.Random(1000 + k)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await barrier.wait()                 # all 200 connected before anyone asks
        for step in range(2):
            pool = non_ascii if k % 3 == 0 else ref
            prefix = _prefix_of(rng.choice(pool)[1], rng)
            limit = rng.choice([None, 1, 7, DEFAULT_LIMIT, 100, MAX_LIMIT])
            path = "/offsets/" + _encode_prefix(prefix, rng) + ("" if limit is None else "?limit=%d" % limit)
            status, h, body = await _request(reader, writer, port, path)
            assert status == 200, (path, status, body[:200])
            assert h["content-type"].startswith("application/json")
            want = expected(ref, prefix, limit or DEFAULT_LIMIT)
            assert json.loads(body) == want, path
            counts["search"] += 1
            counts["non_ascii"] += any(ord(c) > 127 for c in prefix)

            # one article by title, one by byte range (hits of this search if any)
            hit = rng.choice(want) if want else list(rng.choice(articles)[1:])
            title, start, end = hit
            status, h, body = await _request(reader, writer, port, "/wiki/" + q(title))
            assert status == 200, (title, status, body[:200])
            assert h["content-type"].startswith("application/xml")
            check_page(body, dump_bytes, start, end, title)
            counts["wiki"] += 1

            _, title, start, end = rng.choice(ref)
            status, h, body = await _request(reader, writer, port, "/xml",
                                             "Range: bytes=%d-%d\r\n" % (start, end - 1))
            assert status == 206, (title, status, body[:200])
            assert h["content-range"] == "bytes %d-%d/%d" % (start, end - 1, len(dump_bytes))
            check_page(body, dump_bytes, start, end, title)
            counts["xml"] += 1
    finally:
        writer.close()


def test_200_concurrent_clients(live, ref, dump_bytes):
    port = urllib.parse.urlsplit(live).port
    non_ascii = [r for r in ref if any(b > 127 for b in r[0][:3])]
    assert len(non_ascii) > 100

    async def main():
        n = 200
        barrier = asyncio.Barrier(n)
        counts = {"search": 0, "wiki": 0, "xml": 0, "non_ascii": 0}
        await asyncio.wait_for(asyncio.gather(*(_client(k, port, ref, articles(ref), non_ascii, dump_bytes, barrier, counts)
                                                for k in range(n))), 60)
        return counts

    counts = asyncio.run(main())
    assert counts["search"] == counts["wiki"] == counts["xml"] == 400
    assert counts["non_ascii"] >= 100


# ------------------------------------------------------------------- search

def test_default_and_explicit_limits(live, ref):
    for prefix in ["A", "C", "S", "Ta", "Κ", "東"]:
        status, got = get_json(live, "/offsets/" + q(prefix))
        assert status == 200 and got == expected(ref, prefix, DEFAULT_LIMIT)
    assert len(expected(ref, "A", 10_000)) > DEFAULT_LIMIT         # the default really cut
    for limit in (1, 2, 999, MAX_LIMIT):
        status, got = get_json(live, "/offsets/A?limit=%d" % limit)
        assert status == 200 and got == expected(ref, "A", limit)
    # the largest answer: every title beginning with a common letter, 1000 of them
    big = max("ABCDEFGHIJKLMNOPQRSTUVWXYZ", key=lambda c: len(expected(ref, c, 10_000)))
    status, got = get_json(live, "/offsets/%s?limit=1000" % big)
    assert status == 200 and got == expected(ref, big, MAX_LIMIT)
    # other query parameters are ignored; 05 is 5
    status, got = get_json(live, "/offsets/A?x=1&limit=05&y")
    assert got == expected(ref, "A", 5)


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=", "limit",
                                   "limit=-1", "limit=%2B5", "limit=5x", "limit=1e3",
                                   "limit=99999999999999999999"])
def test_invalid_limit_is_400_json(live, query):
    status, body = get_json(live, "/offsets/A?" + query)
    assert status == 400 and "limit" in body["error"]


def test_prefix_edge_cases(live, ref):
    status, body = get_json(live, "/offsets/")
    assert status == 400 and body["error"] == "empty prefix"
    status, body = get_json(live, "/offsets/" + "a" * 1025)
    assert status == 400 and body["error"] == "prefix too long"
    status, body = get_json(live, "/offsets/" + q("é" * 513))          # 1026 bytes decoded
    assert status == 400 and body["error"] == "prefix too long"
    status, body = get_json(live, "/offsets/" + "a" * 1024)             # the longest allowed
    assert status == 200 and body == []
    status, body = get_json(live, "/offsets/" + q("Zzzzzzqqq no such"))
    assert status == 200 and body == []


@pytest.mark.parametrize("path", ["/offsets/%zz", "/offsets/%", "/offsets/A%4", "/offsets/%00",
                                  "/wiki/%G1", "/wiki/x%"])
def test_invalid_percent_encoding_is_400(live, path):
    status, _, _ = get(live, path)
    assert status == 400


def test_utf8_byte_prefixes(live, ref):
    # A prefix may end inside a UTF-8 sequence: search is by bytes.
    t = next(r for r in ref if r[0][0] >= 0xC0)
    lead = t[0][:1]
    status, _, body = get(live, "/offsets/%%%02X?limit=50" % lead[0])
    assert status == 200
    assert json.loads(body) == expected(ref, lead, 50)


def test_non_ascii_titles(live, ref, dump_bytes):
    scripts = {"greek": (0x370, 0x3FF), "cyrillic": (0x400, 0x4FF), "cjk": (0x4E00, 0x9FFF),
               "accented": (0xC0, 0x17F)}
    for name, (lo, hi) in scripts.items():
        k, title, start, end = next(r for r in articles(ref) if lo <= ord(r[1][0]) <= hi)
        status, got = get_json(live, "/offsets/" + q(title) + "?limit=1000")
        assert status == 200 and got == expected(ref, title, 1000) and got[0] == [title, start, end], name
        status, h, body = get(live, "/wiki/" + q(title))
        assert status == 200, name
        check_page(body, dump_bytes, start, end, title)


def test_titles_with_reserved_characters(live, ref, dump_bytes):
    found = 0
    for ch in "%+/?&#'\"":
        hit = next((r for r in articles(ref) if ch in r[1]), None)
        if hit is None:
            continue
        found += 1
        _, title, start, end = hit
        status, got = get_json(live, "/offsets/" + q(title) + "?limit=1")
        assert got == [[title, start, end]], title
        status, h, body = get(live, "/wiki/" + q(title))
        assert status == 200, title
        check_page(body, dump_bytes, start, end, title)
    assert found >= 4
    # "/" may also arrive unencoded: the rest of the path is the title
    slash = next(r for r in articles(ref) if "/" in r[1])
    status, _, body = get(live, "/wiki/" + urllib.parse.quote(slash[1], safe="/"))
    assert status == 200 and body == dump_bytes[slash[2]:slash[3]]
    # "+" is not a space in a path
    plus = next((r for r in articles(ref) if "+" in r[1]), None)
    if plus is not None:
        status, _, body = get(live, "/wiki/" + q(plus[1]).replace("%2B", "+"))
        assert status == 200 and body == dump_bytes[plus[2]:plus[3]]


def test_redirects_resolved_at_build_time(live, brute, ref, dump_bytes):
    redirects = [i for i, p in enumerate(brute) if p["redirect"]]
    assert len(redirects) > 100
    resolved = 0
    for i in redirects[:60] + redirects[-12:]:
        p = brute[i]
        t = brute[ref.resolve(i)]
        resolved += t is not p
        # a search hit on a redirect shows its target (once)
        status, got = get_json(live, "/offsets/" + q(p["title"].split(":", 1)[-1]) + "?limit=1000&ns=%d" % p["ns"])
        assert got == expected(ref, p["title"].split(":", 1)[-1], 1000, p["ns"])
        assert [t["title"], t["start"], t["end"]] in got
        assert sum(1 for g in got if g[0] == t["title"]) == 1
        # /wiki/<redirect> answers the target; ?redirect=no the stub
        status, _, body = get(live, "/wiki/" + q(p["title"]))
        assert status == 200
        check_page(body, dump_bytes, t["start"], t["end"], t["title"])
        status, _, body = get(live, "/wiki/" + q(p["title"]) + "?redirect=no")
        check_page(body, dump_bytes, p["start"], p["end"], p["title"])
        assert ET.fromstring(body).find("redirect").get("title") == p["redirect"]
    assert resolved > 50


def test_wikipedia_like_urls_and_search(live, ref, brute, dump_bytes):
    by = {p["title"]: p for p in reversed(brute)}         # first page of a duplicate wins
    def page(title):
        p = by[title]
        return [p["title"], p["start"], p["end"]]
    status, got = get_json(live, "/offsets/abraham")
    assert got == expected(ref, "abraham") and page("Abraham Lincoln") in got
    status, got = get_json(live, "/offsets/" + q("AYN R"))
    assert got == [page("Ayn Rand")]
    status, got = get_json(live, "/offsets/" + q("Ayn") + "?format=full")
    assert got == expected(ref, "Ayn", full=True)
    assert got == [{"title": "Ayn Rand", "start": by["Ayn Rand"]["start"], "end": by["Ayn Rand"]["end"],
                    "ns": 0, "redirect_from": None}]
    status, got = get_json(live, "/offsets/" + q("AynR") + "?format=full")
    assert got[0]["title"] == "Ayn Rand" and got[0]["redirect_from"] == "AynRand"
    status, got = get_json(live, "/offsets/" + q("zurich") + "?limit=50")
    assert got == expected(ref, "zurich", 50) and page("Zürich") in got
    # namespaces
    status, got = get_json(live, "/offsets/Wikipedia")
    assert got == expected(ref, "Wikipedia") and all(":" not in g[0] for g in got)
    status, got = get_json(live, "/offsets/abraham?ns=14")
    assert got == [page("Category:Abraham Lincoln")]
    status, got = get_json(live, "/offsets/a?ns=4&limit=1000&format=full")
    assert got == expected(ref, "a", 1000, 4, True) and got
    for bad in ("ns=", "ns=x", "ns=1.5", "format=xml"):
        status, body = get_json(live, "/offsets/a?" + bad)
        assert status == 400, bad
    # URLs: underscores, first letter either case, percent-encoding, namespace case
    for url, title in [("Abraham_Lincoln", "Abraham Lincoln"), ("abraham_Lincoln", "Abraham Lincoln"),
                       ("AynRand", "Ayn Rand"), ("Ayn_rand", "Ayn Rand"), ("Honest_Abe", "Abraham Lincoln"),
                       (q("zürich"), "Zürich"), ("category:Ayn_Rand", "Category:Ayn Rand"),
                       ("Wikipedia:Ayn_Rand", "Ayn Rand"), ("Lost_Page", "Lost Page"),
                       ("Duplicate_Title", "Duplicate Title")]:
        status, h, body = get(live, "/wiki/" + url)
        p = by[title]
        assert status == 200, url
        check_page(body, dump_bytes, p["start"], p["end"], title)
        assert "sandbox" in h["content-security-policy"]
    status, body = get_json(live, "/wiki/Nowhere_To_Be_Found")
    assert status == 404
    # JSON escaping of titles (the server writes this JSON itself)
    for fmt in ("", "&format=full"):
        status, got = get_json(live, "/offsets/back?limit=50" + fmt)
        assert got == expected(ref, "back", 50, full=bool(fmt))
        assert 'Back\\slash and "quotes" in a title' in [g["title"] if fmt else g[0] for g in got]


# ------------------------------------------------------------------ articles

def test_every_special_title_and_a_sample_of_articles(live, brute, dump_bytes):
    from wikisearch.gen import SPECIAL_TITLES
    by_title = {p["title"]: p for p in brute}
    sample = [by_title[t] for t in SPECIAL_TITLES] + random.Random(5).sample(brute, 100)
    biggest = max(brute, key=lambda p: p["end"] - p["start"])
    for p in sample + [biggest, brute[0], brute[-1]]:
        if p["redirect"] is not None:
            continue                    # test_redirects_resolved_at_build_time
        status, h, body = get(live, "/wiki/" + q(p["title"]))
        assert status == 200 and int(h["content-length"]) == p["end"] - p["start"]
        check_page(body, dump_bytes, p["start"], p["end"], p["title"])


def test_unknown_title_is_404_json(live, ref):
    title = ref[0][1]
    for path in ["/wiki/" + q("No such title, surely"), "/wiki/" + q(title[:-1]), "/wiki/" + q(title + "x"),
                 "/wiki/", "/wiki/" + "x" * 2000]:
        status, body = get_json(live, path)
        assert status == 404 and body == {"error": "no such title"}, path


def test_xml_ranges(live, dump_bytes):
    size = len(dump_bytes)
    # never the whole dump (tens of GB on a real one): a Range is required, as in PyParallel
    status, h, body = get(live, "/xml")
    assert status == 400 and json.loads(body) == {"error": "Ranged-request required"}
    status, h, body = get(live, "/xml", {"Range": "bytes=0-99"})
    assert h["content-type"].startswith("application/xml") and h["accept-ranges"] == "bytes"
    assert "sandbox" in h["content-security-policy"]
    assert status == 206 and body == dump_bytes[:100] and h["content-range"] == "bytes 0-99/%d" % size
    status, h, body = get(live, "/xml", {"Range": "bytes=-100"})
    assert status == 206 and body == dump_bytes[-100:]
    status, h, body = get(live, "/xml", {"Range": "bytes=%d-" % (size - 10)})
    assert status == 206 and body == dump_bytes[-10:]
    status, h, body = get(live, "/xml", {"Range": "bytes=%d-%d" % (size - 5, size + 1000)})
    assert status == 206 and body == dump_bytes[-5:]        # clamped to the end
    for past in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 10, size + 20)):
        status, h, body = get(live, "/xml", {"Range": past})
        assert status == 416 and h["content-range"] == "bytes */%d" % size, past
    for bad in ("bytes=abc", "items=0-9", "bytes=", "bytes", ""):
        # one the HTTP layer would ignore (RFC 9110) would send the whole dump: refused too
        status, h, body = get(live, "/xml", {"Range": bad})
        assert status == 400 and json.loads(body) == {"error": "Ranged-request required"}, bad
    status, h, body = get(live, "/xml", {"Range": "bytes=0-9,100-109"})     # two ranges: multipart
    assert status == 206 and h["content-type"].startswith("multipart/byteranges; boundary=")
    assert dump_bytes[:10] in body and dump_bytes[100:110] in body
    assert "bytes 0-9/%d" % size in body.decode("utf-8", "replace")


# --------------------------------------------------------------- page, stats

def test_root_serves_the_search_page(live):
    with open(os.path.join(PKG, "static", "index.html"), "rb") as f:
        html = f.read()
    status, h, body = get(live, "/")
    assert status == 200 and body == html
    assert h["content-type"] == "text/html; charset=utf-8"
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self'" in csp and h["x-content-type-options"] == "nosniff"
    status, h, _ = get(live, "/offsets/A")
    assert h["content-security-policy"].startswith("default-src 'none'")
    status, _, _ = get(live, "/nothing-here")
    assert status == 404


def test_stats(live, brute, dump_bytes):
    status, s1 = get_json(live, "/stats")
    assert status == 200
    assert s1["pages"] == len(brute) and s1["dump_size"] == len(dump_bytes) and s1["workers"] == 2
    for _ in range(5):
        get(live, "/offsets/A")
    status, s2 = get_json(live, "/stats")
    assert s2["requests"] >= s1["requests"] + 6      # 5 searches + this /stats
