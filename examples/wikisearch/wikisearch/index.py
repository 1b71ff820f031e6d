"""Build and load the title index of a MediaWiki XML dump.

    wikisearch build DUMP [--index DIR]

The dump is never parsed as a whole: raw bytes are scanned in large chunks for
the literal `<page>` / `</page>` / `<title>` tags (in a MediaWiki dump all
text content is XML-escaped, so these byte sequences occur only as tags).
Memory is bounded by the chunk size, the largest page, one external-sort run
of titles, and the trie itself (which grows with the number of titles).

Index directory (written to a temp dir, then renamed into place). Every title
array is in dump page order unless said otherwise; p is a page number:

  titles.bin         real titles, UTF-8, back to back (+ one NUL at the end)
  title_offsets.npy  uint32[pages + 1]: title of p = titles[off[p]:off[p+1]]
  name_skip.npy      uint8[pages]: bytes of the "Namespace:" prefix of p's title
  namespaces.npy     int32[pages]: namespace of p (<ns>)
  targets.npy        int32[pages]: the page p stands for: a redirect's target
                     (resolved at build time through chains, when it exists),
                     else p; -1 for a duplicate title (the first page wins)
  keys.bin           folded names (fold.py: title minus its namespace prefix,
                     case- and accent-folded), sorted by (ns, key, name, page)
  key_offsets.npy    uint32[pages + 1] into keys.bin; key_pages.npy int32[pages]:
                     the page of each sorted key
  name_order.npy     int32[pages]: pages sorted by (ns, name bytes, page)
  title_hash.npy     int32[2^k]: open-addressing (FNV-1a) table, title -> page
  fold.json          the folding tables the keys were made with (fold.py)
  offsets.npy        uint64[pages + 1]: start offset of every <page> element
                     (the '<' of "<page>"), plus one final entry = end of the
                     last page. Sorted, strictly increasing.
  ends.npy           uint64[pages]: end offset of every page (just after
                     "</page>"). Page i is exactly dump[offsets[i]:ends[i]].
  manifest.json      format/version, dump path/size/mtime_ns, page count,
                     namespaces with their entry ranges, ...

Both sorted orders group the pages by namespace, so a namespace is one range
[lo, hi) of either (manifest "namespaces": [ns, name, lo, hi]).
"""
import array
import bz2
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import DumpChangedError, DumpFormatError, IndexFormatError, TruncatedDumpError
from .errors import WikisearchError
from .atomic import atomic_file
from .progress import Progress

FORMAT = "wikisearch-index"
FORMAT_VERSION = 2
KEY_ENCODING = "sorted-folded-utf-8"
OFFSETS_FILE = "offsets.npy"
ENDS_FILE = "ends.npy"
MANIFEST_FILE = "manifest.json"

CHUNK = 16 << 20          # raw read size for the scanner
_WS = b" \t\r\n"


def default_index_dir(dump):
    base = dump
    for ext in (".bz2", ".xml"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base + ".index"


# ------------------------------------------------------------------ scanning

_ENTITY = re.compile(rb"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_NAMED = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}


def unescape_title(raw, page_no, offset):
    """XML-unescape raw <title> bytes; return validated UTF-8 bytes."""
    def bad(why):
        return DumpFormatError("malformed title of page %d at byte %d: %s" % (page_no, offset, why))

    if b"<" in raw:
        raise bad("unexpected markup in title")
    if b"&" in raw:
        n = [0]

        def repl(m):
            n[0] += 1
            ent = m.group(1)
            if ent[0:1] == b"#":
                cp = int(ent[2:], 16) if ent[1:2] in b"xX" else int(ent[1:])
                if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                    raise bad("invalid character reference &%s;" % ent.decode())
                return chr(cp).encode("utf-8")
            try:
                return _NAMED[ent]
            except KeyError:
                raise bad("unknown entity &%s;" % ent.decode()) from None

        out = _ENTITY.sub(repl, raw)
        if raw.count(b"&") != n[0]:
            raise bad("unescaped '&'")
        raw = out
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad("invalid UTF-8 (%s)" % e.reason) from None
    if not raw:
        raise bad("empty title")
    if b"\x00" in raw:
        raise bad("title contains NUL")
    return raw


def _check_header(head, path):
    if not head:
        raise DumpFormatError("%s: empty file, not a MediaWiki XML dump" % path)
    if head.startswith(b"BZh"):
        raise DumpFormatError("%s: looks bzip2-compressed; name it *.xml.bz2" % path)
    if head.startswith(b"\x1f\x8b"):
        raise DumpFormatError("%s: looks gzip-compressed; decompress it first" % path)
    i = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while True:
        while i < len(head) and head[i] in _WS:
            i += 1
        if head.startswith(b"<?", i):
            j = head.find(b"?>", i)
        elif head.startswith(b"<!--", i):
            j = head.find(b"-->", i)
        else:
            break
        if j < 0:
            break
        i = j + 2
    if not (head.startswith(b"<mediawiki", i) and head[i + 10:i + 11] in (b" ", b">", b"\n", b"\t", b"\r")):
        raise DumpFormatError("%s: not a MediaWiki XML dump (root element is not <mediawiki>)" % path)
    return i + 10


_NS_RE = re.compile(rb"<ns>\s*(-?[0-9]{1,9})\s*</ns>")
_REDIRECT_RE = re.compile(rb'<redirect\s+title="([^"]*)"')
_NAMESPACE_RE = re.compile(rb'<namespace\s+key="(-?[0-9]{1,9})"[^>]*?(?:/>|>([^<]*)</namespace>)')


def scan_pages(f, path="dump", chunk=CHUNK, progress=None, meta=False):
    """Yield (start, end, raw_title_bytes) for each <page> of an open binary dump file;
    with meta=True (start, end, raw_title, raw_ns or None, raw_redirect_title or None),
    the last two from the page's head (before its first <revision>).

    start is the offset of '<' in "<page>", end the offset just after "</page>".
    Raises DumpFormatError / TruncatedDumpError on malformed input.
    """
    buf = f.read(max(chunk, 1 << 16))
    eof = not buf
    base = 0                   # file offset of buf[0]
    pos = _check_header(buf[:1 << 16], path)
    npage = 0

    def refill(keep_from):
        nonlocal buf, base, eof
        data = f.read(chunk)
        if not data:
            eof = True
        buf = buf[keep_from:] + data
        base += keep_from
        if progress is not None:
            progress(base + len(buf))
        return keep_from

    while True:
        s = buf.find(b"<page>", pos)
        if s < 0:
            if eof:
                break
            if len(buf) - pos > (1 << 20):
                # Long stretch without a page: only whitespace is allowed between pages.
                if npage and buf[pos:len(buf) - 16].strip(_WS):
                    raise DumpFormatError("malformed dump: unexpected content after page %d at byte %d"
                                          % (npage - 1, base + pos))
                pos = len(buf) - 16
            pos -= refill(pos)
            if not buf[pos:] and eof:
                break
            continue
        if npage and buf[pos:s].strip(_WS):
            raise DumpFormatError("malformed dump: unexpected content between pages at byte %d"
                                  % (base + pos + len(buf[pos:s]) - len(buf[pos:s].lstrip(_WS))))
        if not npage and b"</mediawiki>" in buf[pos:s]:
            raise DumpFormatError("malformed dump: <page> after </mediawiki> at byte %d" % (base + s))
        e = buf.find(b"</page>", s + 6)
        while e < 0:
            if eof:
                raise TruncatedDumpError("dump is truncated: page %d starting at byte %d is never closed"
                                         % (npage, base + s))
            searched = len(buf) - 6
            shift = refill(s)
            s, pos = 0, 0
            e = buf.find(b"</page>", max(6, searched - shift))
        nested = buf.find(b"<page>", s + 6, e)
        if nested >= 0:
            raise DumpFormatError("malformed dump: page %d at byte %d is not closed before the next "
                                  "<page> at byte %d" % (npage, base + s, base + nested))
        t0 = buf.find(b"<title>", s + 6, e)
        if t0 < 0 or buf[s + 6:t0].strip(_WS):
            raise DumpFormatError("malformed dump: page %d at byte %d does not start with <title>"
                                  % (npage, base + s))
        t1 = buf.find(b"</title>", t0 + 7, e)
        if t1 < 0:
            raise DumpFormatError("malformed dump: page %d at byte %d has an unclosed <title>"
                                  % (npage, base + s))
        if meta:
            r = buf.find(b"<revision", t1, e)
            head = buf[t1 + 8:r if r >= 0 else e]
            m = _NS_RE.search(head)
            rd = _REDIRECT_RE.search(head)
            yield (base + s, base + e + 7, buf[t0 + 7:t1], m.group(1) if m else None,
                   rd.group(1) if rd else None)
        else:
            yield base + s, base + e + 7, buf[t0 + 7:t1]
        npage += 1
        pos = e + 7

    tail = buf[pos:].strip(_WS)
    end_tag = b"</mediawiki>"
    if tail == end_tag:
        if not npage:
            raise DumpFormatError("%s: MediaWiki dump contains no <page> elements" % path)
        return
    if tail.startswith(end_tag):
        raise DumpFormatError("malformed dump: unexpected content after </mediawiki> at byte %d"
                              % (base + buf.find(end_tag, pos) + len(end_tag)))
    if not npage and tail.endswith(end_tag):       # <siteinfo> ... </mediawiki>, no page
        raise DumpFormatError("%s: MediaWiki dump contains no <page> elements" % path)
    if not npage:
        raise TruncatedDumpError("dump is truncated or has no pages: no <page> and no </mediawiki> found")
    if end_tag.startswith(tail) or b"<page>".startswith(tail[:6]):
        raise TruncatedDumpError("dump is truncated after page %d (no closing </mediawiki>)" % (npage - 1))
    raise DumpFormatError("malformed dump: unexpected content after the last page at byte %d"
                          % (base + pos))


# ----------------------------------------------------------------- building

def _stat_sig(path):
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def decompress_bz2(src, progress=None):
    """Decompress DUMP.xml.bz2 to the sibling DUMP.xml (temp file + rename).

    An existing sibling that is newer than the .bz2 file is reused.
    """
    dst = src[:-4] if src.endswith(".bz2") else src + ".xml"
    src_st = os.stat(src)
    try:
        if os.stat(dst).st_mtime_ns >= src_st.st_mtime_ns:
            return dst, False
    except FileNotFoundError:
        pass
    bar = Progress("decompressing", total=src_st.st_size, enabled=progress)
    try:
        with open(src, "rb") as raw, bz2.BZ2File(raw) as fi, atomic_file(dst) as fo:
            try:
                while True:
                    data = fi.read(4 << 20)
                    if not data:
                        break
                    fo.write(data)
                    bar.update(raw.tell())
            except (OSError, EOFError) as e:
                raise DumpFormatError("%s: corrupt or truncated bzip2 data (%s)" % (src, e)) from None
    finally:
        bar.close()
    return dst, True


def _check_target(index_dir):
    if os.path.lexists(index_dir):
        if not os.path.isdir(index_dir) or (
                os.listdir(index_dir) and not os.path.exists(os.path.join(index_dir, MANIFEST_FILE))):
            raise WikisearchError("refusing to replace %s: it exists and is not a wikisearch index"
                                  % index_dir)


def _write_npy(path, raw_path, n):
    """Copy n native uint64 values from raw_path into a .npy file, in chunks."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint64, shape=(n,))
    step = 1 << 22
    with open(raw_path, "rb") as f:
        for i in range(0, n, step):
            a = np.fromfile(f, dtype=np.uint64, count=min(step, n - i))
            out[i:i + len(a)] = a
    out.flush()
    del out


def read_namespaces(path):
    """{key: name} from the dump's <siteinfo><namespaces> ({0: ""} if absent)."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    end = head.find(b"</siteinfo>")
    if end < 0:
        end = head.find(b"<page>")
    head = head[:end] if end >= 0 else b""
    out = {0: ""}
    for m in _NAMESPACE_RE.finditer(head):
        name = unescape_title(m.group(2), -1, 0).decode("utf-8") if m.group(2) else ""
        out[int(m.group(1))] = name.strip()
    return out


@dataclass
class BuildResult:
    index_dir: str
    dump_path: str
    pages: int
    titles: int
    duplicates: int
    dump_bytes: int
    seconds: float
    redirects: int = 0

    @property
    def mb_per_s(self):
        return self.dump_bytes / 1e6 / max(self.seconds, 1e-9)


def build_index(dump, index_dir=None, progress=None, chunk=CHUNK, log=None):
    """Index a dump (.xml, or .xml.bz2 decompressed first). Returns a BuildResult."""
    from .titlebuild import FILES, TitleCollector, build_title_arrays
    t_start = time.monotonic()
    if not os.path.exists(dump):
        raise WikisearchError("%s: no such file" % dump)
    if os.path.isdir(dump):
        raise WikisearchError("%s: is a directory, expected a MediaWiki XML dump" % dump)
    index_dir = os.path.abspath(index_dir or default_index_dir(dump))
    _check_target(index_dir)
    if dump.endswith(".bz2"):
        dump, fresh = decompress_bz2(dump, progress=progress)
        if log and not fresh:
            log("using existing decompressed dump %s" % dump)
    dump = os.path.abspath(dump)
    size, mtime_ns = _stat_sig(dump)

    parent = os.path.dirname(index_dir)
    os.makedirs(parent, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix="." + os.path.basename(index_dir) + ".", suffix=".tmp", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmpdir, 0o777 & ~umask)
        with open(dump, "rb") as f:
            _check_header(f.read(1 << 16), dump)
        namespaces = read_namespaces(dump)
        col = TitleCollector(tmpdir, namespaces)
        starts_raw = os.path.join(tmpdir, "starts.u64")
        ends_raw = os.path.join(tmpdir, "ends.u64")
        n = 0
        with open(dump, "rb", buffering=0) as f, \
                open(starts_raw, "wb") as fs, open(ends_raw, "wb") as fe, \
                Progress("indexing", total=size, enabled=progress) as bar:
            sa, ea = array.array("Q"), array.array("Q")
            add = col.add
            for start, end, raw_title, ns_raw, redirect in scan_pages(f, dump, chunk, bar.update, meta=True):
                add(n, unescape_title(raw_title, n, start), ns_raw, redirect)
                sa.append(start)
                ea.append(end)
                n += 1
                if len(sa) >= 1 << 20:
                    sa.tofile(fs), ea.tofile(fe)
                    del sa[:], ea[:]
            sa.tofile(fs), ea.tofile(fe)
            bar.update(size)
        if _stat_sig(dump) != (size, mtime_ns):
            raise DumpChangedError("dump changed while indexing; rebuild with: wikisearch build %s" % dump)
        if n >= 1 << 31:
            raise WikisearchError("%d pages: this index format holds at most 2^31 - 1" % n)

        # offsets.npy = starts + final end; ends.npy = ends.  (n >= 1: scan_pages
        # rejects dumps without pages.)
        with open(starts_raw, "ab") as fs:
            array.array("Q", [end]).tofile(fs)
        _write_npy(os.path.join(tmpdir, OFFSETS_FILE), starts_raw, n + 1)
        _write_npy(os.path.join(tmpdir, ENDS_FILE), ends_raw, n)
        os.unlink(starts_raw)
        os.unlink(ends_raw)

        def unescape(raw):
            return unescape_title(raw, -1, 0)
        info = build_title_arrays(col, namespaces, unescape, log)
        del col

        seconds = time.monotonic() - t_start
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "dump": dump,
            "dump_size": size,
            "dump_mtime_ns": mtime_ns,
            "pages": n,
            **info,
            "key_encoding": KEY_ENCODING,
            "files": {"offsets": OFFSETS_FILE, "ends": ENDS_FILE},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(seconds, 3),
        }
        with open(os.path.join(tmpdir, MANIFEST_FILE), "w") as mf:
            json.dump(manifest, mf, indent=2)
            mf.write("\n")
        for name in FILES + [OFFSETS_FILE, ENDS_FILE, MANIFEST_FILE]:
            with open(os.path.join(tmpdir, name), "rb") as fh:
                os.fsync(fh.fileno())

        # Install: rename into place (an old index is moved aside, then removed).
        _check_target(index_dir)
        if os.path.lexists(index_dir):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(index_dir) + ".", suffix=".old", dir=parent)
            os.rename(index_dir, os.path.join(old, "index"))
            os.rename(tmpdir, index_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmpdir, index_dir)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return BuildResult(index_dir, dump, n, info["titles"], info["duplicate_titles"], size,
                       time.monotonic() - t_start, info["redirects"])


# ------------------------------------------------------------------ loading

@dataclass(frozen=True)
class WikiIndex:
    """A loaded index. Arrays are read-only memory maps."""
    index_dir: str
    dump_path: str          # absolute path of the indexed .xml dump
    dump_size: int
    page_count: int
    offsets: np.ndarray     # uint64[page_count + 1]: page starts + final end
    ends: np.ndarray        # uint64[page_count]: page ends (exclusive)
    arrays: dict = field(repr=False)        # the title arrays (titlebuild.ARRAYS)
    namespaces: list = field(repr=False)    # [[ns, name, lo, hi], ...]
    fold_table: dict = field(repr=False)
    manifest: dict = field(repr=False)

    def page_range(self, i):
        """(start, end) byte range of page i: dump[start:end] is its <page> element."""
        return int(self.offsets[i]), int(self.ends[i])

    def read_page(self, i):
        start, end = self.page_range(i)
        with open(self.dump_path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def title(self, i):
        off = self.arrays["title_offsets"]
        return self.arrays["titles"][int(off[i]):int(off[i + 1])].tobytes().decode("utf-8")

    def open_titles(self):
        """The nogil query object (titleindex.Index) over this index."""
        from .titleindex import Index
        return Index(self.arrays, self.namespaces, self.fold_table)


def load_index(index_dir):
    """Open an index built by build_index(); validates it against its dump."""
    from .titlebuild import ARRAYS
    index_dir = os.path.abspath(index_dir)
    mpath = os.path.join(index_dir, MANIFEST_FILE)
    if not os.path.isdir(index_dir):
        raise IndexFormatError("index not found: %s; build it with: wikisearch build DUMP --index %s"
                               % (index_dir, index_dir))
    try:
        with open(mpath) as f:
            m = json.load(f)
    except FileNotFoundError:
        raise IndexFormatError("%s is not a wikisearch index (no %s); build it with: "
                               "wikisearch build DUMP --index %s" % (index_dir, MANIFEST_FILE, index_dir)) from None
    except (ValueError, OSError) as e:
        raise IndexFormatError("%s: unreadable manifest (%s)" % (mpath, e)) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise IndexFormatError("%s: not a wikisearch index manifest" % mpath)
    if m.get("version") != FORMAT_VERSION or m.get("key_encoding") != KEY_ENCODING:
        raise IndexFormatError("%s: unsupported index version %r; rebuild with: wikisearch build %s --index %s"
                               % (mpath, m.get("version"), m.get("dump"), index_dir))
    dump = m["dump"]
    rebuild = "wikisearch build %s --index %s" % (dump, index_dir)
    try:
        sig = _stat_sig(dump)
    except FileNotFoundError:
        raise DumpChangedError("dump not found: %s; rebuild with: %s" % (dump, rebuild)) from None
    if sig != (m["dump_size"], m["dump_mtime_ns"]):
        raise DumpChangedError("dump changed since indexing; rebuild with: %s" % rebuild)
    n = m["pages"]
    arrays = {}
    want = {"offsets": (n + 1,), "ends": (n,), "title_offsets": (n + 1,), "name_skip": (n,),
            "namespaces": (n,), "targets": (n,), "key_offsets": (n + 1,), "key_pages": (n,),
            "name_order": (n,)}
    specs = [(k, m["files"][k], np.uint64) for k in ("offsets", "ends")] + \
        [(k, f, dt) for k, (f, dt) in ARRAYS.items()]
    for key, fname, dt in specs:
        path = os.path.join(index_dir, fname)
        try:
            if fname.endswith(".bin"):
                a = np.memmap(path, dtype=np.int8, mode="r")
            else:
                a = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise IndexFormatError("%s: cannot load (%s); rebuild with: %s" % (path, e, rebuild)) from None
        if a.dtype != np.dtype(dt) or (key in want and a.shape != want[key]):
            raise IndexFormatError("%s: expected %s%s, found %s%s; rebuild with: %s"
                                   % (path, np.dtype(dt), want.get(key, ""), a.dtype, a.shape, rebuild))
        arrays[key] = a
    try:
        with open(os.path.join(index_dir, "fold.json")) as f:
            fold_table = json.load(f)
    except (OSError, ValueError) as e:
        raise IndexFormatError("%s/fold.json: cannot load (%s); rebuild with: %s" % (index_dir, e, rebuild)) from None
    offsets, ends = arrays.pop("offsets"), arrays.pop("ends")
    toff, koff = arrays["title_offsets"], arrays["key_offsets"]
    if n and (int(offsets[-1]) != int(ends[-1]) or int(ends[-1]) > m["dump_size"]
              or int(toff[-1]) >= len(arrays["titles"]) or int(koff[-1]) >= len(arrays["keys"])):
        raise IndexFormatError("%s: inconsistent offsets; rebuild with: %s" % (index_dir, rebuild))
    return WikiIndex(index_dir, dump, m["dump_size"], n, offsets, ends, arrays, m["namespaces"],
                     fold_table, m)
