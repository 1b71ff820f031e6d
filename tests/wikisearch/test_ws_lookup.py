"""prefix search in C (Debian libdatrie) vs the Python datrie package vs brute force."""
import random

import datrie
import pytest

from wikisearch import lookup


@pytest.fixture(scope="module")
def tries(index):
    py = datrie.BaseTrie.load(index.trie_path)
    c = lookup.TitleTrie(index.trie_path)
    yield py, c
    c.close()


@pytest.fixture(scope="module")
def sorted_titles(brute):
    return sorted(p["title"].encode("utf-8") for p in brute)


def _prefixes(sorted_titles):
    rng = random.Random(5)
    ps = {b"", b"A", b"L", b"List of ", b"Talk:", b"Category:", b"Z", b"zz-none", b"\xce",
          b"\xe6", b"\xd0\x9c", b"The ", b"\xff", b"Cross-site scripting (test page)"}
    for _ in range(300):
        t = rng.choice(sorted_titles)
        ps.add(t[:rng.randint(1, min(len(t), 8))])
    return sorted(ps)


def test_prefix_matches_datrie_and_brute_force(tries, sorted_titles):
    py, c = tries
    for p in _prefixes(sorted_titles):
        expect = [t for t in sorted_titles if t.startswith(p)]
        py_items = [(k.encode("latin-1"), v) for k, v in py.items(p.decode("latin-1"))]
        assert [k for k, _ in py_items] == expect, p            # datrie order == UTF-8 byte order
        for limit in (1, 20, len(expect) + 5):
            assert c.prefix(p, limit) == py_items[:limit], (p, limit)
        assert c.iter_prefix(p) == py_items, p                  # libdatrie's own iterator agrees


def test_prefix_pages_point_at_titles(tries, brute):
    _, c = tries
    for key, page in c.prefix(b"", 10_000):
        assert brute[page]["title"].encode("utf-8") == key


def test_exact_lookup_all_titles(tries, brute):
    _, c = tries
    for i, p in enumerate(brute):
        assert c.lookup(p["title"].encode("utf-8")) == i
    assert c.lookup(b"no such title \xe2\x80\x94") is None
    assert c.lookup(b"") is None
    assert c.lookup(b"A\x00B") is None
    long = brute[5]["title"].encode("utf-8") * 100          # > 512 bytes: heap path
    assert c.lookup(long) is None


def test_edge_cases(tries):
    _, c = tries
    assert c.prefix(b"\x00", 5) == []
    assert c.prefix(b"A\x00", 5) == []
    assert c.prefix(b"A", 0) == []
    assert len(c.prefix(b"", 7)) == 7


def test_module_functions(index, brute):
    title = brute[0]["title"].encode("utf-8")
    assert lookup.prefix(index.trie_path, title, 3)[0] == (title, 0)
    assert lookup.lookup(index.trie_path, title) == 0
    with pytest.raises(FileNotFoundError):
        lookup.TitleTrie("/nonexistent/titles.trie")


def test_bad_trie_file(tmp_path):
    p = tmp_path / "bad.trie"
    p.write_bytes(b"not a trie at all" * 10)
    with pytest.raises(ValueError):
        lookup.TitleTrie(str(p))


def test_threads_share_one_trie(tries, sorted_titles):
    from concurrent.futures import ThreadPoolExecutor
    py, c = tries
    ps = _prefixes(sorted_titles)[:80]
    expect = {p: [(k.encode("latin-1"), v) for k, v in py.items(p.decode("latin-1"))][:20] for p in ps}
    with ThreadPoolExecutor(4) as ex:
        for _ in range(3):
            got = list(ex.map(lambda p: (p, c.prefix(p, 20)), ps))
            assert all(r == expect[p] for p, r in got)
