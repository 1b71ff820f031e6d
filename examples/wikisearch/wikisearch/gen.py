"""Deterministic synthetic MediaWiki `pages-articles` XML dump generator.

    wikisearch gen OUT.xml [--pages N] [--seed S]

Same (pages, seed) -> byte-identical output. Memory use does not grow with the
page count: titles are a pure function of the page number (an injective
mixed-radix encoding of a permuted page number into vocabulary tokens), so no
set of seen titles is kept, and pages are streamed to the output file.

Output is written to a temp file next to OUT and renamed into place at the end;
on any error (or Ctrl-C) the temp file is removed.
"""
import hashlib
import math
import random
import time

from .atomic import atomic_file
from .progress import Progress

DEFAULT_PAGES = 100_000
DEFAULT_SEED = 1

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"

# Titles of fixed test pages (used by the browser / escaping tests). They use
# "(test page)", a two-word parenthesised part that generated titles never
# contain, so they cannot collide with generated titles.
SCRIPT_TEST_TITLE = "Cross-site scripting (test page)"
SPECIAL_TITLES = [
    SCRIPT_TEST_TITLE,
    'AT&T "Quotes" & Ampersands (test page)',
    "Ελληνικά, Русский и 日本語 (test page)",
]
SCRIPT_SNIPPET = "<script>alert(1)</script>"

NAMESPACES = [
    (-2, "Media"), (-1, "Special"), (0, ""), (1, "Talk"), (2, "User"),
    (3, "User talk"), (4, "Wikipedia"), (5, "Wikipedia talk"), (6, "File"),
    (10, "Template"), (11, "Template talk"), (12, "Help"), (14, "Category"),
    (100, "Portal"), (828, "Module"),
]

# ---------------------------------------------------------------- vocabulary

_EN = """Abbey Academy Aircraft Album Alpine Amber Anchor Angel Apollo Archive Arrow
Atlas Aurora Autumn Avenue Badger Bakery Ballad Baltic Banner Baron Basin Battle
Beacon Bear Bell Bishop Blue Bridge Brook Bronze Canal Canyon Capital Cardinal
Castle Cathedral Cedar Central Chapel Charter Church Circle Citadel Civic Cliff
Coast Cobalt College Colony Comet Copper Coral Council County Crane Creek Crimson
Crown Crystal Dawn Delta Desert Diamond District Dragon Eagle Eastern Echo Eclipse
Electric Empire Falcon Ferry Festival Field Forest Fortress Fountain Fox Frontier
Galaxy Garden Gate Glacier Golden Granite Grand Green Grove Guild Harbor Harvest
Haven Hawk Heights Heritage Highland Hill Hollow Horizon Imperial Island Ivory
Jade Journal Junction Kingdom Lagoon Lake Legacy Liberty Lighthouse Lion Lotus
Lunar Manor Maple Marble Market Meadow Memorial Mercury Meridian Mill Mission
Monarch Mountain Museum National Navy Nebula North Northern Oak Ocean Orbit
Orchard Pacific Palace Parish Park Pavilion Peak Phoenix Pilgrim Pine Pioneer
Plaza Polar Port Prairie Prince Province Quarry Queen Radio Railway Ranger Raven
Republic Ridge River Royal Saint Savanna Scarlet Senate Shadow Sierra Silver
Society Solar Southern Sparrow Spring Square Star Station Stone Storm Summit
Sunset Temple Theatre Thunder Tower Trail Tribune Tunnel Union United University
Valley Velvet Victoria Village Vista Volcano Warden Western Willow Winter Wolf
Zenith algorithm analysis biology chemistry concerto dynasty economics equation
football geology grammar history language literature mathematics monastery
mythology novel opera painting philosophy physics poetry railway sculpture
symphony theorem""".split()

_SPECIAL_TOKENS = """AT&T R&B C++ AC/DC U2 3M O'Brien Rock'n'roll Yes! Mr. St. Dr. 1984
2001 1066 1789 1914 1945 2012 4×4 Ω α-helix E=mc² 100% $5 ½ Wi-Fi self-titled
Jean-Luc Hà_Nội? B&Q P&O Q&A S&P 7-Eleven Procter&Gamble""".split()

_ACCENTED = """Café Zürich São Ångström Łódź Málaga Kraków Dvořák Gödel Poincaré Fréchet
Montréal Québec Besançon Nîmes Orléans Göteborg Malmö Århus Tromsø Reykjavík
Þingvellir Ísland Ñandú España Coruña Cádiz Bogotá Perú Curaçao Bahía Córdoba
Šibenik Čakovec Žilina Brașov Iași Timișoara Győr Pécs Škoda Citroën Renée
naïve façade über Müller Schröder Straße Köln Düsseldorf Gauß Weiß Éire Dún
Ciarán Siân Øresund Ålesund Üsküdar İzmir Muğla Eskişehir Ağrı Nguyễn Thủ""".split()

_CYRILLIC = """Москва Россия Санкт-Петербург Новосибирск Екатеринбург Казань Волга
Байкал Урал Сибирь Киев Минск София Белград Скопье Пушкин Толстой Достоевский
Чехов Гоголь Менделеев Ломоносов Королёв Гагарин Спутник Кремль Эрмитаж
История Наука Литература Музыка Театр Река Озеро Гора Город Улица Площадь""".split()

_GREEK = """Αθήνα Ελλάδα Θεσσαλονίκη Κρήτη Ρόδος Σπάρτη Όλυμπος Ακρόπολη Πλάτων
Αριστοτέλης Σωκράτης Όμηρος Ιλιάδα Οδύσσεια Ζευς Αθηνά Απόλλων Ερμής Ποσειδών
Φιλοσοφία Μαθηματικά Ιστορία Γεωγραφία Δημοκρατία Θάλασσα Ήλιος Σελήνη""".split()

_CJK = """東京 北京 上海 大阪 京都 横浜 香港 台北 首尔 日本 中国 韓国 大学 図書館 博物館 駅
鉄道 新聞 山 川 湖 海 花 月 星 空 風 雪 春 秋 夏 冬 龍 虎 鳥 魚 王 国 城 寺 神社 歴史
文学 音楽 映画 科学 数学 物理 化学 経済 政治 言語 漢字 平仮名 片仮名 東京タワー
富士山 長江 黄河 紫禁城 万里の長城 ソニー 任天堂 トヨタ""".split()

_SYL_LATIN = "ka ro mi an ter ston vel dor la ne bri gan sel tor u ma li ven quo ar".split()
_SYL_ACC = "é è ü ö å ø ñ ç ã ő ł ž š ř".split()
_SYL_CYR = "ка ро ми ан тер вел дор ла не бри ган сел тор ма ли вен".split()
_SYL_GRK = "κα ρο μι αν τερ βελ δορ λα νε βρι γαν σελ τορ μα λι".split()
_CJK_CHARS = "東西南北中山川田林森水火木金土日月星光明春夏秋冬天地人心花鳥風雲雪竜龍虎学校院寺城門橋島"

_FORBIDDEN = set(' ()[]{}<>|#:,"_–\t\n')
# Words that decorate titles (see _STYLES); tokens must never equal them.
_DECORATION_WORDS = {"List", "of", "The", "&", "in"}
_NS_NAMES = {name for _, name in NAMESPACES}


def _build_vocab(rng, size=4096):
    toks = set()
    for w in _EN + _SPECIAL_TOKENS + _ACCENTED + _CYRILLIC + _GREEK + _CJK:
        toks.add(w.replace("_", "").replace("?", ""))
    while len(toks) < size:
        r = rng.random()
        if r < 0.45:
            w = "".join(rng.choice(_SYL_LATIN) for _ in range(rng.randint(2, 4))).capitalize()
            if rng.random() < 0.3:
                w += rng.choice(_SYL_ACC)
        elif r < 0.6:
            w = "".join(rng.choice(_SYL_CYR) for _ in range(rng.randint(2, 4))).capitalize()
        elif r < 0.7:
            w = "".join(rng.choice(_SYL_GRK) for _ in range(rng.randint(2, 4))).capitalize()
        elif r < 0.85:
            w = "".join(rng.choice(_CJK_CHARS) for _ in range(rng.randint(2, 4)))
        elif r < 0.95:
            w = str(rng.randint(1, 2100))
        else:
            w = rng.choice(_EN) + "-" + rng.choice(_EN).lower()
        toks.add(w)
    vocab = sorted(t for t in toks
                   if t and not (_FORBIDDEN & set(t))
                   and t not in _DECORATION_WORDS and t not in _NS_NAMES)
    return vocab


# ------------------------------------------------------------------- titles
# Each style renders a token list T into a title. Injectivity: tokens contain
# none of  ' ' ( ) , : "  and never equal a decoration word, so the namespace
# prefix, the style and the tokens can all be recovered from the title string.
def _plain(T):
    return " ".join(T)


def _paren(d):
    return lambda T: "%s (%s)" % (" ".join(T), d)


_STYLES = [  # (namespace, render, weight); weights sum to _W
    (0, _plain, 55),
    (0, _paren("disambiguation"), 2), (0, _paren("film"), 2), (0, _paren("album"), 2),
    (0, _paren("band"), 1), (0, _paren("novel"), 1), (0, _paren("river"), 1),
    (0, lambda T: "List of " + " ".join(T), 4),
    (0, lambda T: "The %s of %s" % (T[0], " ".join(T[1:])), 4),
    (0, lambda T: "%s, %s" % (T[0], " ".join(T[1:])), 4),
    (0, lambda T: "%s & %s" % (T[0], " ".join(T[1:])), 3),
    (0, lambda T: '%s "%s"' % (T[0], " ".join(T[1:])), 2),
    (1, _plain, 6), (4, _plain, 3), (10, _plain, 4), (14, _plain, 5),
    (4, lambda T: "List of " + " ".join(T), 1),
]
_W = sum(w for _, _, w in _STYLES)
_NS_PREFIX = {k: (name + ":" if k else "") for k, name in NAMESPACES}


class TitleSpace:
    """Injective map page number -> (namespace, title) for pages 0..n-1."""

    def __init__(self, n, rng):
        self.n = n
        self.vocab = _build_vocab(rng)
        V = len(self.vocab)
        # residue r in [0, _W) -> (style index, rank of r among that style's residues)
        self.residue = []
        for si, (_, _, w) in enumerate(_STYLES):
            self.residue.extend((si, k) for k in range(w))
        self.q_max = -(-max(n, 1) // _W)            # x // _W < q_max
        self.M = self.q_max * _W                     # permutation domain, >= n
        max_w = max(w for _, _, w in _STYLES)
        self.K = 2
        while V ** self.K < self.q_max * max_w:
            self.K += 1
        # x = (a*j + c) mod M is a bijection on [0, M) when gcd(a, M) == 1.
        a = rng.randrange(self.M // 3 + 1, self.M) | 1 if self.M > 3 else 1
        while math.gcd(a, self.M) != 1:
            a += 2
        self.a = a % self.M or 1
        self.c = rng.randrange(self.M)
        # Second bijection on [0, V**K) spreads the per-style ranks over all tokens.
        self.VK = V ** self.K
        b = rng.randrange(self.VK // 3, self.VK) | 1
        while math.gcd(b, self.VK) != 1:
            b += 2
        self.b = b
        self.d = rng.randrange(self.VK)

    def title(self, j):
        """(ns, title) of page j. Special test pages occupy the first numbers."""
        if j < len(SPECIAL_TITLES) and self.n > len(SPECIAL_TITLES) * 10:
            return 0, SPECIAL_TITLES[j]
        x = (self.a * j + self.c) % self.M
        q, r = divmod(x, _W)
        si, k = self.residue[r]
        ns, render, w = _STYLES[si]
        t = (self.b * (q * w + k) + self.d) % self.VK  # injective for a fixed style
        V = len(self.vocab)
        toks = []
        for _ in range(self.K):
            t, d = divmod(t, V)
            toks.append(self.vocab[d])
        return ns, _NS_PREFIX[ns] + render(toks)


# --------------------------------------------------------------------- text

def xml_escape(s):
    """Escape text for XML element content and attribute values (like MediaWiki)."""
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def sha1_base36(data):
    n = int.from_bytes(hashlib.sha1(data).digest(), "big")
    out = []
    for _ in range(31):
        n, d = divmod(n, 36)
        out.append(_B36[d])
    return "".join(reversed(out))


def _paragraphs(rng, vocab, count=1024):
    """A pool of wikitext paragraphs exercising markup and characters needing escaping."""
    def w():
        return rng.choice(vocab)

    def link():
        a = w()
        return "[[%s]]" % a if rng.random() < 0.6 else "[[%s|%s]]" % (a, w().lower())

    templates = [
        lambda: "The %s %s was established in %d near %s. It is known for its %s and %s."
                % (w(), w(), rng.randint(800, 2024), link(), w().lower(), link()),
        lambda: "== %s ==\n%s is a %s %s of %s, first described by %s in %d.<ref>{{cite web"
                "|url=https://example.org/%d?a=1&b=2|title=%s %s|access-date=2024-01-%02d}}</ref>"
                % (w(), link(), w().lower(), w().lower(), link(), w(), rng.randint(1500, 2024),
                   rng.randint(1, 10**6), w(), w(), rng.randint(1, 28)),
        lambda: "=== %s ===\n* %s &ndash; %s\n* %s &ndash; %s\n* '''%s''' (%d)"
                % (w(), link(), w(), link(), w(), w(), rng.randint(1900, 2024)),
        lambda: '{| class="wikitable sortable"\n|-\n! %s !! %s !! Year\n|-\n| %s || %d || %d\n'
                '|-\n| %s || %d || %d\n|}' % (w(), w(), link(), rng.randint(1, 999),
                                              rng.randint(1800, 2024), link(),
                                              rng.randint(1, 999), rng.randint(1800, 2024)),
        lambda: "In %s, the inequality <math>a_%d < b_%d \\leq c</math> holds whenever "
                "x > %d && y < %d; see %s." % (w(), rng.randint(1, 9), rng.randint(1, 9),
                                               rng.randint(0, 99), rng.randint(100, 999), link()),
        lambda: "{{Infobox %s\n| name = %s\n| image = %s.jpg\n| population = %d\n"
                "| website = [https://example.org/%s?q=1&lang=en %s]\n}}"
                % (w().lower(), w(), w(), rng.randint(100, 10**7), rng.randint(1, 9999), w()),
        lambda: "''%s'' (\"%s\") is described as '%s' by %s.<!-- editor note: check & verify -->"
                "<br />Also: <nowiki>[[not a link]]</nowiki> and R&D at %s."
                % (w(), w(), w(), link(), link()),
        lambda: "%s %s %s %s. %s %s %s, %s %s %s %s." % tuple(w() for _ in range(11)),
        lambda: "Temperatures range from &minus;%d&nbsp;°C to %d&nbsp;°C; %s &amp; %s "
                "report \"<5%%\" variance." % (rng.randint(1, 40), rng.randint(1, 45), w(), w()),
    ]
    pool = []
    for _ in range(count):
        k = rng.randint(1, 4)
        s = "\n\n".join(rng.choice(templates)() for _ in range(k))
        pool.append((s.encode("utf-8"), xml_escape(s).encode("utf-8")))
    return pool


# ----------------------------------------------------------------- generator

_PAGE = (b"  <page>\n"
         b"    <title>%s</title>\n"
         b"    <ns>%d</ns>\n"
         b"    <id>%d</id>\n"
         b"%s"
         b"    <revision>\n"
         b"      <id>%d</id>\n"
         b"      <parentid>%d</parentid>\n"
         b"      <timestamp>%s</timestamp>\n"
         b"      <contributor>\n%s      </contributor>\n"
         b"%s"
         b"      <model>wikitext</model>\n"
         b"      <format>text/x-wiki</format>\n"
         b"      <text bytes=\"%d\" xml:space=\"preserve\">%s</text>\n"
         b"      <sha1>%s</sha1>\n"
         b"    </revision>\n"
         b"  </page>\n")


def header():
    ns_lines = []
    for key, name in NAMESPACES:
        if name:
            ns_lines.append('      <namespace key="%d" case="first-letter">%s</namespace>'
                            % (key, xml_escape(name)))
        else:
            ns_lines.append('      <namespace key="%d" case="first-letter" />' % key)
    return ("<mediawiki xmlns=\"%s\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            "xsi:schemaLocation=\"%s http://www.mediawiki.org/xml/export-0.11.xsd\" "
            "version=\"0.11\" xml:lang=\"en\">\n"
            "  <siteinfo>\n"
            "    <sitename>Wikipedia</sitename>\n"
            "    <dbname>enwiki</dbname>\n"
            "    <base>https://en.wikipedia.org/wiki/Main_Page</base>\n"
            "    <generator>MediaWiki 1.42.0 (wikisearch synthetic dump)</generator>\n"
            "    <case>first-letter</case>\n"
            "    <namespaces>\n%s\n    </namespaces>\n"
            "  </siteinfo>\n" % (EXPORT_NS, EXPORT_NS, "\n".join(ns_lines))).encode("utf-8")


FOOTER = b"</mediawiki>\n"


def iter_pages(pages, seed, short=False):
    """Yield the dump as byte strings: header, one item per page, footer.

    short=True gives every article a one-line text (lead sentence + categories):
    the titles, namespaces and redirects are the same kind, the dump ~10x smaller
    (for scale runs, where titles and offsets are what matter).
    """
    rng = random.Random(seed)
    space = TitleSpace(pages, rng)
    vocab = space.vocab
    pool = _paragraphs(rng, vocab)
    avg_para = sum(len(r) for r, _ in pool) / len(pool)
    users = []
    for i in range(300):
        name = "%s%s%d" % (rng.choice(vocab), rng.choice(["", "_", "-", " "]), rng.randint(1, 9999))
        users.append(("        <username>%s</username>\n        <id>%d</id>\n"
                      % (xml_escape(name), rng.randint(1, 5 * 10**7))).encode("utf-8"))
    comments = [b"", b"      <comment>copyedit</comment>\n",
                b"      <comment>/* History */ fix &amp; expand</comment>\n",
                b"      <comment>Reverted edits by [[Special:Contributions/192.0.2.1|192.0.2.1]]"
                b" (&lt;script&gt; vandalism)</comment>\n"]
    t_lo, t_hi = 1_000_000_000, 1_720_000_000     # 2001 .. 2024

    yield header()
    page_id = 0
    rev_id = 100_000
    rand = rng.random
    randint = rng.randint
    for j in range(pages):
        ns, title = space.title(j)
        page_id += randint(1, 4)
        rev_id += randint(1, 50)
        redirect = b""
        r = rand()
        if j >= len(SPECIAL_TITLES) and r < 0.10:
            target = space.title(randint(0, pages - 1))[1]
            text = "#REDIRECT [[%s]]" % target
            if rand() < 0.3:
                text += "\n\n{{Redirect category shell|\n{{R from move}}\n}}"
            raw = text.encode("utf-8")
            esc = xml_escape(text).encode("utf-8")
            redirect = ('    <redirect title="%s" />\n' % xml_escape(target)).encode("utf-8")
        elif j >= len(SPECIAL_TITLES) and r < 0.12:
            raw = rng.choice([b"{{stub}}", b"x", b"See [[Help]].", b"{{db-g7}}", b""])
            esc = raw
        elif short:
            raw = ("'''%s''' is a %s in [[%s]].\n[[Category:%s]]" % (
                title.split(":", 1)[-1], rng.choice(vocab), space.title(randint(0, pages - 1))[1],
                rng.choice(vocab))).encode("utf-8")
            esc = xml_escape(raw.decode("utf-8")).encode("utf-8")
        else:
            # Skewed size: lognormal, median ~1.3 KiB, mean ~3 KiB, capped at 400 KiB.
            size = min(int(math.exp(rng.gauss(7.2, 1.3))), 400 * 1024)
            k = max(1, int(size / avg_para + 0.5))
            lead = "'''%s''' is a %s in [[%s]]." % (
                title.split(":", 1)[-1], rng.choice(vocab), space.title(randint(0, pages - 1))[1])
            raws = [lead.encode("utf-8")]
            escs = [xml_escape(lead).encode("utf-8")]
            for p in rng.choices(pool, k=k):
                raws.append(p[0])
                escs.append(p[1])
            if j == 0 or (j >= 500 and j % 5000 == 500):   # pages with <script> in their text
                s = ("== Escaping test ==\nThis text must be shown literally: %s and "
                     "<img src=x onerror=alert(2)> & \"quotes\" 'apos'.\n" % SCRIPT_SNIPPET)
                raws.append(s.encode("utf-8"))
                escs.append(xml_escape(s).encode("utf-8"))
            cat = "[[Category:%s]]\n[[Category:%s %s]]" % (
                rng.choice(vocab), rng.choice(vocab), rng.choice(vocab))
            raws.append(cat.encode("utf-8"))
            escs.append(xml_escape(cat).encode("utf-8"))
            raw = b"\n\n".join(raws)
            esc = b"\n\n".join(escs)
        if rand() < 0.1:
            contrib = ("        <ip>192.0.2.%d</ip>\n" % randint(1, 254)).encode()
        else:
            contrib = users[randint(0, len(users) - 1)]
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(randint(t_lo, t_hi))).encode()
        yield _PAGE % (
            xml_escape(title).encode("utf-8"), ns, page_id, redirect,
            rev_id, rev_id - randint(1, 99), ts, contrib, comments[randint(0, 3)],
            len(raw), esc, sha1_base36(raw).encode())
    yield FOOTER


def generate(out_path, pages=DEFAULT_PAGES, seed=DEFAULT_SEED, progress=None, short=False):
    """Write the dump to out_path atomically. Returns the number of bytes written."""
    if pages < 1:
        raise ValueError("--pages must be >= 1")
    written = 0
    bar = Progress("generating", total=pages, unit="pages", enabled=progress)
    try:
        with atomic_file(out_path, buffering=1 << 20) as f:
            for n, chunk in enumerate(iter_pages(pages, seed, short)):
                f.write(chunk)
                written += len(chunk)
                if n & 255 == 0:
                    bar.update(n)
            bar.update(pages, force=True)
    finally:
        bar.close()
    return written
