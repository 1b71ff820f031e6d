"""Build and load the title index of a MediaWiki XML dump.

    wikisearch build DUMP [--index DIR]

The dump is never parsed as a whole: raw bytes are scanned in large chunks for
the literal `<page>` / `</page>` / `<title>` tags (in a MediaWiki dump all
text content is XML-escaped, so these byte sequences occur only as tags).
Memory is bounded by the chunk size, the largest page, one external-sort run
of titles, and the trie itself (which grows with the number of titles).

Index directory (written to a temp dir, then renamed into place):

  titles.trie    datrie/libdatrie trie, key -> page number (0-based dump order).
                 Key = UTF-8 bytes of the title, each byte b stored as the
                 code point U+00bb (title.encode('utf-8').decode('latin-1')),
                 alphabet exactly [U+0001, U+00FF]. NUL never occurs in titles.
  offsets.npy    uint64[pages + 1]: start offset of every <page> element
                 (the '<' of "<page>"), plus one final entry = end of the
                 last page. Sorted, strictly increasing.
  ends.npy       uint64[pages]: end offset of every page (just after
                 "</page>"). Page i is exactly dump[offsets[i]:ends[i]].
  manifest.json  format/version, dump path/size/mtime_ns, page count, ...
"""
import array
import bz2
import heapq
import json
import os
import re
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import DumpChangedError, DumpFormatError, IndexFormatError, TruncatedDumpError
from .errors import WikisearchError
from .atomic import atomic_file
from .progress import Progress

FORMAT = "wikisearch-index"
FORMAT_VERSION = 1
KEY_ENCODING = "utf-8-bytes-as-latin-1"
TRIE_RANGES = [("\x01", "\xff")]
TRIE_FILE = "titles.trie"
OFFSETS_FILE = "offsets.npy"
ENDS_FILE = "ends.npy"
MANIFEST_FILE = "manifest.json"

CHUNK = 16 << 20          # raw read size for the scanner
SORT_RUN = 1_000_000      # titles per external-sort run
_WS = b" \t\r\n"


def make_trie():
    """An empty trie with the index's alphabet (one symbol per UTF-8 byte value)."""
    import datrie
    return datrie.BaseTrie(ranges=TRIE_RANGES)


def encode_key(title):
    """Title (str) -> trie key (str of code points U+0001..U+00FF)."""
    if "\x00" in title:
        raise ValueError("title contains NUL")
    return title.encode("utf-8").decode("latin-1")


def decode_key(key):
    return key.encode("latin-1").decode("utf-8")


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


def scan_pages(f, path="dump", chunk=CHUNK, progress=None):
    """Yield (start, end, raw_title_bytes) for each <page> of an open binary dump file.

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
    if not npage:
        raise TruncatedDumpError("dump is truncated or has no pages: no <page> and no </mediawiki> found")
    if end_tag.startswith(tail) or b"<page>".startswith(tail[:6]):
        raise TruncatedDumpError("dump is truncated after page %d (no closing </mediawiki>)" % (npage - 1))
    raise DumpFormatError("malformed dump: unexpected content after the last page at byte %d"
                          % (base + pos))


# ------------------------------------------------------------ external sort

class _TitleSorter:
    """Collect (key_bytes, page) pairs; iterate them sorted with bounded memory."""

    def __init__(self, tmpdir, run_size=SORT_RUN):
        self.tmpdir = tmpdir
        self.run_size = run_size
        self.items = []
        self.runs = []

    def add(self, key, page):
        self.items.append((key, page))
        if len(self.items) >= self.run_size:
            self._spill()

    def _spill(self):
        self.items.sort()
        path = os.path.join(self.tmpdir, "run-%d.bin" % len(self.runs))
        pack = struct.Struct("<II").pack
        with open(path, "wb", buffering=1 << 20) as f:
            for key, page in self.items:
                f.write(pack(len(key), page))
                f.write(key)
        self.runs.append(path)
        self.items = []

    @staticmethod
    def _read_run(path):
        unpack = struct.Struct("<II").unpack
        with open(path, "rb", buffering=1 << 20) as f:
            while True:
                hdr = f.read(8)
                if not hdr:
                    return
                n, page = unpack(hdr)
                yield f.read(n), page

    def sorted(self):
        self.items.sort()
        if not self.runs:
            return iter(self.items)
        return heapq.merge(iter(self.items), *(self._read_run(p) for p in self.runs))

    def cleanup(self):
        self.items = []
        for p in self.runs:
            try:
                os.unlink(p)
            except OSError:
                pass


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


@dataclass
class BuildResult:
    index_dir: str
    dump_path: str
    pages: int
    titles: int
    duplicates: int
    dump_bytes: int
    seconds: float

    @property
    def mb_per_s(self):
        return self.dump_bytes / 1e6 / max(self.seconds, 1e-9)


def build_index(dump, index_dir=None, progress=None, chunk=CHUNK, sort_run=SORT_RUN, log=None):
    """Index a dump (.xml, or .xml.bz2 decompressed first). Returns a BuildResult."""
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
    sorter = _TitleSorter(tmpdir, sort_run)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmpdir, 0o777 & ~umask)
        starts_raw = os.path.join(tmpdir, "starts.u64")
        ends_raw = os.path.join(tmpdir, "ends.u64")
        n = 0
        with open(dump, "rb", buffering=0) as f, \
                open(starts_raw, "wb") as fs, open(ends_raw, "wb") as fe, \
                Progress("indexing", total=size, enabled=progress) as bar:
            sa, ea = array.array("Q"), array.array("Q")
            for start, end, raw_title in scan_pages(f, dump, chunk, bar.update):
                sorter.add(unescape_title(raw_title, n, start), n)
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

        # offsets.npy = starts + final end; ends.npy = ends.  (n >= 1: scan_pages
        # rejects dumps without pages.)
        with open(starts_raw, "ab") as fs:
            array.array("Q", [end]).tofile(fs)
        _write_npy(os.path.join(tmpdir, OFFSETS_FILE), starts_raw, n + 1)
        _write_npy(os.path.join(tmpdir, ENDS_FILE), ends_raw, n)
        os.unlink(starts_raw)
        os.unlink(ends_raw)

        # Sorted insertion is ~50x faster than dump order for libdatrie.
        trie = make_trie()
        prev, titles, dups = None, 0, 0
        for key, page in sorter.sorted():
            if key == prev:
                dups += 1           # duplicate title: the first page wins
                continue
            trie[key.decode("latin-1")] = page
            prev = key
            titles += 1
        sorter.cleanup()
        trie.save(os.path.join(tmpdir, TRIE_FILE))
        del trie

        seconds = time.monotonic() - t_start
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "dump": dump,
            "dump_size": size,
            "dump_mtime_ns": mtime_ns,
            "pages": n,
            "titles": titles,
            "duplicate_titles": dups,
            "key_encoding": KEY_ENCODING,
            "trie_alphabet": [[ord(a), ord(b)] for a, b in TRIE_RANGES],
            "files": {"trie": TRIE_FILE, "offsets": OFFSETS_FILE, "ends": ENDS_FILE},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(seconds, 3),
        }
        with open(os.path.join(tmpdir, MANIFEST_FILE), "w") as mf:
            json.dump(manifest, mf, indent=2)
            mf.write("\n")
        for name in (TRIE_FILE, OFFSETS_FILE, ENDS_FILE, MANIFEST_FILE):
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
        sorter.cleanup()
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return BuildResult(index_dir, dump, n, titles, dups, size, time.monotonic() - t_start)


# ------------------------------------------------------------------ loading

@dataclass(frozen=True)
class WikiIndex:
    """A loaded index. Arrays are read-only memory maps."""
    index_dir: str
    trie_path: str          # titles.trie, for libdatrie's trie_new_from_file()
    dump_path: str          # absolute path of the indexed .xml dump
    dump_size: int
    page_count: int
    offsets: np.ndarray     # uint64[page_count + 1]: page starts + final end
    ends: np.ndarray        # uint64[page_count]: page ends (exclusive)
    manifest: dict = field(repr=False)

    def page_range(self, i):
        """(start, end) byte range of page i: dump[start:end] is its <page> element."""
        return int(self.offsets[i]), int(self.ends[i])

    def read_page(self, i):
        start, end = self.page_range(i)
        with open(self.dump_path, "rb") as f:
            f.seek(start)
            return f.read(end - start)


def load_index(index_dir):
    """Open an index built by build_index(); validates it against its dump."""
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
    for key, want in (("offsets", n + 1), ("ends", n)):
        path = os.path.join(index_dir, m["files"][key])
        try:
            a = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise IndexFormatError("%s: cannot load (%s); rebuild with: %s" % (path, e, rebuild)) from None
        if a.dtype != np.dtype(np.uint64) or a.shape != (want,):
            raise IndexFormatError("%s: expected uint64[%d], found %s%s; rebuild with: %s"
                                   % (path, want, a.dtype, a.shape, rebuild))
        arrays[key] = a
    trie_path = os.path.join(index_dir, m["files"]["trie"])
    if not os.path.isfile(trie_path):
        raise IndexFormatError("%s: missing; rebuild with: %s" % (trie_path, rebuild))
    offsets, ends = arrays["offsets"], arrays["ends"]
    if n and (int(offsets[-1]) != int(ends[-1]) or int(ends[-1]) > m["dump_size"]):
        raise IndexFormatError("%s: inconsistent offsets; rebuild with: %s" % (index_dir, rebuild))
    return WikiIndex(index_dir, trie_path, dump, m["dump_size"], n, offsets, ends, m)
