"""Folded prefix search, URL titles and redirects of the title index
(wikisearch.titleindex, the nogil code the server runs) against the brute-force
reference (ws_reference), on the generated dump + the CASES pages."""
import random
import threading
import unicodedata

import pytest

from ws_reference import ref_fold, CASES


def prefixes_of(ref, n, seed):
    """Query strings derived from random titles: 1-5 characters, in the title's case,
    lower, upper, accents stripped, decomposed."""
    rng = random.Random(seed)
    out = set()
    for _, title, _, _ in rng.sample(list(ref), n):
        name = title.split(":", 1)[1] if ":" in title and rng.random() < 0.5 else title
        p = name[:rng.randint(1, 5)]
        stripped = "".join(c for c in unicodedata.normalize("NFD", p) if not unicodedata.combining(c))
        out.update([p, p.lower(), p.upper(), stripped, unicodedata.normalize("NFD", p)])
    return sorted(x for x in out if x)


def test_fold_table_is_the_reference_fold(titles, ref):
    for _, title, _, _ in ref:
        b = title.encode("utf-8")
        assert titles.fold(b) == ref_fold(b), title
    for s in ["AYN R", "ZÜRICH", "Zu\u0308rich", "STRASSE", "Straße", "\ufb01LE", "ΣΊΣΥΦΟΣ", "МОСКВА",
              "Ǆemal", "İstanbul", "x\xff\xfey", "\ud7ff"]:
        b = s.encode("utf-8", "surrogatepass")
        assert titles.fold(b) == ref_fold(b), s
    assert titles.fold(b"A\x80\xc3") == b"a\x80\xc3"             # invalid UTF-8 passes through


def test_search_matches_brute_force(titles, ref):
    qs = prefixes_of(ref, 400, 1) + ["a", "A", "z", "Z", "ab", "The", "the", "List of", "list", "μ", "М",
                                      "\u0301", "(", "&", " "]
    for p in qs:
        for limit in (1, 20, 1000):
            assert titles.search(p.encode("utf-8"), 0, limit) == ref.search(p, limit), (p, limit)


@pytest.mark.parametrize("ns", [1, 4, 10, 14, 99, -1])
def test_search_other_namespaces_matches_brute_force(titles, ref, ns):
    for p in prefixes_of(ref, 100, ns) + ["a", "Abraham", "ayn"]:
        assert titles.search(p.encode("utf-8"), ns, 50) == ref.search(p, 50, ns), (p, ns)


def test_byte_prefixes_match_brute_force(titles, ref):
    rng = random.Random(3)
    for _, title, _, _ in rng.sample(list(ref), 300):
        b = title.encode("utf-8")
        p = b[:rng.randint(1, min(len(b), 7))]          # may end inside a character
        assert titles.search(p, 0, 20) == ref.search(p, 20), p


def names(index, hits):
    return [index.title(p) for p, _ in hits]


def test_wikipedia_like_cases(index, titles):
    s = lambda q, ns=0, limit=20: names(index, titles.search(q.encode("utf-8"), ns, limit))
    assert "Abraham Lincoln" in s("abraham")
    assert s("AYN R") == ["Ayn Rand"]                   # AynRand, Ayn rand: redirects to it, listed once
    assert s("Ayn") == ["Ayn Rand"]
    # exact-case prefix matches first, in byte order; then the folded ones
    assert s("Abraham")[:4] == ["Abraham", "Abraham Lincoln", "Abrahamsen", "ABRAHAM (band)"]
    assert s("ABRAHAM")[:1] == ["ABRAHAM (band)"]
    assert s("Honest") == ["Abraham Lincoln"]           # a two-hop redirect shows its final target
    zs = s("zurich")
    assert {"Zürich", "Zurich Airport", "ZÜRICH (disambiguation)", "Zu\u0308rich Lake"} <= set(zs)
    assert s("Zürich")[0] == "Zürich" and set(s("ZURICH")) == set(zs)
    assert s("Zu\u0308r")[0] == "Zu\u0308rich Lake"      # decomposed input: exact first, then the rest
    assert set(s("Zu\u0308r")) == set(zs)
    assert s("angstrom") == ["Ångström"] and s("STRASSE")[0] == "Straße" and s("krakow") == ["Kraków"]
    assert s("москва") == ["Москва"] and s("МОСК") == ["Москва", "Московский Кремль"]
    assert s("σισυ") == ["Σίσυφος"] and s("FILE (lig") == ["\ufb01le (ligature)"]
    assert s("Lost") == ["Lost Page"]                   # redirect to a missing page: the stub
    assert set(s("Loop")) == {"Loop A", "Loop B"}       # a cycle: each stub
    assert s("Duplicate") == ["Duplicate Title"]
    # namespaces: articles only by default; ns= selects, and matches the name after the prefix
    assert s("Wikipedia") == [] and s("Category") == []
    assert s("abraham", 14) == ["Category:Abraham Lincoln"]
    assert s("ayn", 4) == ["Ayn Rand"]                  # Wikipedia:Ayn Rand redirects into ns 0
    assert s("Ayn", 1) == ["Talk:Ayn Rand"]
    assert s("a", 12345) == []


def test_url_titles(index, titles):
    f = lambda t: None if titles.find_url(t.encode("utf-8")) is None else index.title(titles.find_url(t.encode("utf-8")))
    assert f("Abraham_Lincoln") == "Abraham Lincoln"
    assert f("abraham_Lincoln") == "Abraham Lincoln"
    assert f("_Abraham_Lincoln_") == "Abraham Lincoln"
    assert f("abraham_lincoln") == "Abraham lincoln"        # only the first letter is case-insensitive
    assert f("zürich") == "Zürich" and f("москва") == "Москва" and f("σίσυφος") == "Σίσυφος"
    assert f("iPod") == "iPod" and f("IPod") is None
    assert f("category:ayn_Rand") == "Category:Ayn Rand" and f("CATEGORY:Ayn Rand") == "Category:Ayn Rand"
    assert f("Category:ayn_Rand") == "Category:Ayn Rand" and f("talk:ayn rand") is None
    assert f("Nowhere_To_Be_Found") is None and f("") is None and f("___") is None
    assert f("AynRand") == "AynRand"                        # the redirect page itself (the server follows it)


def test_every_title_is_found(index, titles, ref):
    for tb, title, _, _ in ref:
        p = titles.find(tb)
        assert p is not None and index.title(p) == title
        assert titles.find_url(tb.replace(b" ", b"_")) == p


def test_threads_share_one_index(titles, ref):
    qs = prefixes_of(ref, 100, 9)
    want = {p: ref.search(p, 20) for p in qs}
    errors = []

    def worker():
        for _ in range(5):
            for p in qs:
                if titles.search(p.encode("utf-8"), 0, 20) != want[p]:
                    errors.append(p)
    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_cases_are_in_the_dump(ref):
    titles = {t for _, t, _, _ in ref}
    assert {c[0] for c in CASES} <= titles


def test_fenced_binary_search_equals_plain(index, titles, ref):
    """lower_bound through the fences (every 32nd key, 16 bytes) == a plain binary
    search, for keys sharing long prefixes too, over every namespace range."""
    rng = random.Random(11)
    keys = []
    for _, title, _, _ in rng.sample(list(ref), 300):
        b = title.encode("utf-8")
        keys += [b, b[:rng.randint(0, len(b))], b + b"\xff", b[:16], b[:17], b[:15] + b"\x00" * 3]
        keys.append(ref_fold(b)[:rng.randint(1, 20)])
    keys += [b"", b"\xff" * 20, b"List of ", b"List of A", b"The "]
    ranges = [(lo, hi) for _, _, lo, hi in index.namespaces] + [(3, 70), (31, 33), (5, 5), (0, 1)]
    for names in (True, False):
        for lo, hi in ranges:
            for k in keys:
                assert titles.lower_bound(names, lo, hi, k) == titles.lower_bound(names, lo, hi, k, False), \
                    (names, lo, hi, k)
