"""Brute-force reference of the wikisearch answers, and the cases dump.

Written from the issue's definition, not from the index code: every character
folded with unicodedata (casefold, NFKD, diacritical marks dropped, NFC),
redirects followed through the page list, the ranking done by sorting lists.
"""
import io
import re
import unicodedata
import xml.etree.ElementTree as ET

_DIACRITICS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def ref_fold_char(c):
    if 0xDC80 <= ord(c) <= 0xDCFF:          # an undecodable byte (surrogateescape): kept as it is
        return c
    while True:                             # to a fixed point (NFKD can yield upper case)
        d = unicodedata.normalize("NFKD", c.casefold())
        d = "".join(x for x in d if not (unicodedata.combining(x) and
                                         any(a <= ord(x) <= b for a, b in _DIACRITICS)))
        d = unicodedata.normalize("NFC", d)
        if d == c:
            return d
        c = d


def ref_fold(b):
    """Folded UTF-8 bytes of UTF-8 bytes b (invalid bytes pass through, as in the server)."""
    s = b.decode("utf-8", "surrogateescape")
    return "".join(ref_fold_char(c) for c in s).encode("utf-8", "surrogateescape")


def ucfirst(s):
    return ((s[0].upper() if len(s[0].upper()) == 1 else s[0]) + s[1:]) if s else s


class Reference(list):
    """The old `ref` list [(title bytes, title, start, end)] sorted, first page of a
    duplicate title only, plus search() / resolve() from the brute-force page list."""

    def __init__(self, pages, namespaces):
        self.pages = pages
        self.nsname = namespaces
        first = {}
        for i, p in enumerate(pages):
            first.setdefault(p["title"], i)
        self.first = first
        super().__init__(sorted((pages[i]["title"].encode("utf-8"), pages[i]["title"], pages[i]["start"],
                                 pages[i]["end"]) for i in first.values()))
        self.entries = []
        for i, p in enumerate(pages):
            if first[p["title"]] != i:
                continue
            name = p["title"]
            nm = namespaces.get(p["ns"], "")
            if p["ns"] and nm and name.startswith(nm + ":"):
                name = name[len(nm) + 1:]
            elif p["ns"] and ":" in name:
                name = name.split(":", 1)[1]
            nb = name.encode("utf-8")
            self.entries.append((p["ns"], ref_fold(nb), nb, i))
        self.by_name = sorted(self.entries, key=lambda e: (e[0], e[2], e[3]))
        self.by_key = sorted(self.entries, key=lambda e: (e[0], e[1], e[2], e[3]))

    def target_title(self, raw):
        t = raw.split("#", 1)[0].replace("_", " ").strip()
        head, sep, rest = t.partition(":")
        if sep:
            for k, v in self.nsname.items():
                if v and head.strip().casefold() == v.casefold():
                    return v + ":" + ucfirst(rest.strip())
        return ucfirst(t)

    def resolve(self, i):
        """The page shown for page i: its redirect target, followed through chains
        (8 hops); a missing target or a cycle shows the stub itself."""
        start, seen = i, {i}
        for _ in range(8):
            r = self.pages[i]["redirect"]
            j = self.first.get(self.target_title(r)) if r is not None else None
            if j is None or j == i:
                return i
            if j in seen:
                return start
            seen.add(j)
            i = j
        r = self.pages[i]["redirect"]
        j = self.first.get(self.target_title(r)) if r is not None else None
        return start if j is not None and j != i else i

    def search(self, prefix, limit=20, ns=0):
        """[(shown page, matched page)] in the server's order."""
        q = prefix.encode("utf-8") if isinstance(prefix, str) else prefix
        fq = ref_fold(q)
        exact = [e for e in self.by_name if e[0] == ns and e[2].startswith(q)]
        folded = [e for e in self.by_key if e[0] == ns and e[1].startswith(fq) and not e[2].startswith(q)]
        out, seen = [], set()
        for e in exact + folded:
            t = self.resolve(e[3])
            if t not in seen:
                seen.add(t)
                out.append((t, e[3]))
        return out[:limit]


def expected(ref, prefix, limit=20, ns=0, full=False):
    """Brute-force answer of /offsets/<prefix>?limit=N[&ns=N][&format=full]."""
    out = []
    for t, src in ref.search(prefix, limit, ns):
        p = ref.pages[t]
        if full:
            out.append({"title": p["title"], "start": p["start"], "end": p["end"], "ns": p["ns"],
                        "redirect_from": ref.pages[src]["title"] if src != t else None})
        else:
            out.append([p["title"], p["start"], p["end"]])
    return out


# ------------------------------------------------------------ the cases dump
# Pages appended to the generated test dump: every case the search must handle.
# (title, ns, redirect target or None, wikitext)

ARTICLE_TEXT = (
    "'''Abraham Lincoln''' was the 16th president of the [[United States]]."
    "<ref>{{cite web|url=https://example.org/a?b=1&c=2|title=Source}}</ref>\n\n"
    "== Early life ==\n"
    "Lincoln was born in ''Kentucky'' and grew up on the [[Ayn Rand|American frontier]]."
    "<ref name=\"x\"/>\n\n"
    "=== Family ===\n"
    "* His father, [[Thomas Lincoln]]\n"
    "* His mother, '''''Nancy Hanks'''''\n"
    "# first\n"
    "# second\n\n"
    "See also [[Zürich]], {{Infobox president|name=Lincoln}} and <script>alert(1)</script> "
    "and <img src=x onerror=alert(2)>.\n"
    "[[Category:Presidents]]")

CASES = [
    ("Abraham Lincoln", 0, None, ARTICLE_TEXT),
    ("Abraham", 0, None, "'''Abraham''' is a name."),
    ("ABRAHAM (band)", 0, None, "A band."),
    ("Abrahamsen", 0, None, "A surname."),
    ("Honest Abe", 0, "Abe Lincoln", "#REDIRECT [[Abe Lincoln]]"),
    ("Abe Lincoln", 0, "Abraham Lincoln", "#REDIRECT [[Abraham Lincoln]]"),
    ("Abraham lincoln", 0, "Abraham Lincoln", "#REDIRECT [[Abraham Lincoln]]"),
    ("Ayn Rand", 0, None, "'''Ayn Rand''' was a writer.\n\n== Works ==\n* ''[[Atlas Shrugged]]''"),
    ("AynRand", 0, "Ayn Rand", "#REDIRECT [[Ayn Rand]]"),
    ("Ayn rand", 0, "ayn_Rand#Life", "#REDIRECT [[ayn_Rand#Life]]"),
    ("Lost Page", 0, "Nowhere To Be Found", "#REDIRECT [[Nowhere To Be Found]]"),
    ("Loop A", 0, "Loop B", "#REDIRECT [[Loop B]]"),
    ("Loop B", 0, "Loop A", "#REDIRECT [[Loop A]]"),
    ("Zürich", 0, None, "'''Zürich''' is a city."),
    ("Zurich Airport", 0, None, "An airport."),
    ("ZÜRICH (disambiguation)", 0, None, "Disambiguation."),
    ("Zu\u0308rich Lake", 0, None, "A lake (decomposed title)."),
    ("Ångström", 0, None, "A unit."),
    ("Straße", 0, None, "A street."),
    ("Café de Flore", 0, None, "A café."),
    ("Kraków", 0, None, "A city."),
    ("Москва", 0, None, "'''Москва''' — столица."),
    ("Московский Кремль", 0, None, "Крепость."),
    ("Σίσυφος", 0, None, "Greek."),
    ("\ufb01le (ligature)", 0, None, "A ligature title."),
    ("iPod", 0, None, "A lower-case first letter."),
    ('Back\\slash and "quotes" in a title', 0, None, "JSON escaping."),
    ("Duplicate Title", 0, None, "first"),
    ("Duplicate Title", 0, None, "second"),
    ("Wikipedia:Abraham policy", 4, None, "A project page."),
    ("Category:Abraham Lincoln", 14, None, "A category."),
    ("Category:Ayn Rand", 14, None, "A category."),
    ("Talk:Ayn Rand", 1, None, "A talk page."),
    ("Wikipedia:Ayn Rand", 4, "Ayn Rand", "#REDIRECT [[Ayn Rand]]"),
    ("<script>alert(3)</script> (test page)", 0, None,
     "== <script>alert(4)</script> ==\n'''<b>bold</b>''' [[<script>alert(5)</script>|x]] "
     "[[javascript:alert(6)|click]] <img src=x onerror=alert(7)>"),
]


def case_pages_xml(first_id=10 ** 8):
    from wikisearch.gen import xml_escape
    out = []
    for k, (title, ns, redirect, text) in enumerate(CASES):
        rd = '    <redirect title="%s" />\n' % xml_escape(redirect) if redirect else ""
        out.append("  <page>\n    <title>%s</title>\n    <ns>%d</ns>\n    <id>%d</id>\n%s"
                   "    <revision>\n      <id>%d</id>\n      <model>wikitext</model>\n"
                   "      <format>text/x-wiki</format>\n"
                   '      <text bytes="%d" xml:space="preserve">%s</text>\n    </revision>\n  </page>\n'
                   % (xml_escape(title), ns, first_id + k, rd, first_id + k,
                      len(text.encode("utf-8")), xml_escape(text)))
    return "".join(out).encode("utf-8")


def write_test_dump(path, pages, seed):
    """The generated dump with the CASES pages before </mediawiki>."""
    from wikisearch import gen
    with open(path, "wb") as f:
        for chunk in gen.iter_pages(pages, seed):
            if chunk == gen.FOOTER:
                f.write(case_pages_xml())
            f.write(chunk)


def parse_pages(dump_bytes):
    """Pages found by a different method: one regex over the whole file + xml.etree;
    and the namespaces of the siteinfo."""
    spans = [(m.start(), m.end()) for m in re.finditer(rb"<page>.*?</page>", dump_bytes, re.S)]
    nsx = "{http://www.mediawiki.org/xml/export-0.11/}"
    pages = []
    for (s, e) in spans:
        el = ET.fromstring(dump_bytes[s:e])
        sha1 = el.find("revision/sha1")
        pages.append({
            "start": s, "end": e,
            "title": el.find("title").text,
            "ns": int(el.find("ns").text),
            "redirect": el.find("redirect").get("title") if el.find("redirect") is not None else None,
            "text": el.find("revision/text").text or "",
            "bytes": int(el.find("revision/text").get("bytes")),
            "sha1": sha1.text if sha1 is not None else None,
        })
    titles = [el.text for _, el in ET.iterparse(io.BytesIO(dump_bytes)) if el.tag == nsx + "title"]
    assert titles == [p["title"] for p in pages]
    namespaces = {0: ""}
    for m in re.finditer(rb'<namespace key="(-?\d+)"[^>]*?(?:/>|>([^<]*)</namespace>)', dump_bytes[:1 << 16]):
        namespaces[int(m.group(1))] = (m.group(2) or b"").decode()
    return pages, namespaces
