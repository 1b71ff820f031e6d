"""Search-key folding, decided once at build time.

fold(s) maps every character c of s to FOLD[c] independently:

    FOLD[c] = NFC(NFKD(casefold(c)) without diacritical combining marks),
              applied again until it no longer changes (see fold_char)

so "Ayn Rand", "AYN RAND" and "ayn rand" share a key, "Zürich" (precomposed or
u + U+0308) and "Zurich" share one, "ﬁle" folds to "file". Because the map is
per character, the nogil server folds a query with a table lookup per UTF-8
character (no Unicode library on the request path), and the index builder
folds titles with the same table (`str.translate`), so both sides agree by
construction. The table is written into the index (fold.json) with the Unicode
version it came from; the server loads it from there, never recomputes it.

Only diacritical marks are stripped (the Combining Diacritical Marks blocks),
not the vowel signs and viramas of Indic scripts, which carry meaning.

upper_first(): MediaWiki's first-letter case rule ("case: first-letter"
namespaces): the first character of a title is stored upper-case, so
/wiki/abraham_Lincoln finds "Abraham Lincoln". UPPER holds the characters whose
upper case is one different character.
"""
import functools
import sys
import unicodedata

_MARK_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
                (0xFE20, 0xFE2F))


def _is_diacritic(ch):
    o = ord(ch)
    return any(a <= o <= b for a, b in _MARK_BLOCKS) and unicodedata.combining(ch) != 0


def _fold_once(s):
    d = unicodedata.normalize("NFKD", s.casefold())
    return unicodedata.normalize("NFC", "".join(ch for ch in d if not _is_diacritic(ch)))


def fold_char(c):
    # Repeated until nothing changes, as Unicode's compatibility caseless match
    # (D145) case-folds again after NFKD: NFKD can produce upper case (U+2122 -> "TM",
    # U+210C -> "H", U+1D2C -> "A") or a character casefold changes (U+03F2 -> U+03C2),
    # and a key keeping those is unreachable by what a user types. Two rounds suffice
    # for every character of Unicode 15; the loop is bounded anyway.
    s = _fold_once(c)
    for _ in range(4):
        t = _fold_once(s)
        if t == s:
            break
        s = t
    return s


@functools.lru_cache(maxsize=1)
def tables():
    """(FOLD, UPPER): {code point: str} for every character that changes."""
    fold, upper = {}, {}
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        f = fold_char(c)
        if f != c:
            fold[cp] = f
        u = c.upper()
        if u != c and len(u) == 1:
            upper[cp] = u
    return fold, upper


def fold(s):
    return s.translate(tables()[0])


def upper_first(s):
    if not s:
        return s
    return tables()[1].get(ord(s[0]), s[0]) + s[1:]


def table_json():
    """The tables as written into an index (fold.json)."""
    f, u = tables()
    return {"unicode": unicodedata.unidata_version,
            "fold": {str(k): v for k, v in f.items()},
            "upper": {str(k): v for k, v in u.items()}}
