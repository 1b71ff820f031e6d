"""Build the title arrays of an index (see index.py for the files) from what the
dump scan collected. The heavy steps (hash table, the two sorts, the gather) run
in C (titleindex.pyx) without the GIL: 27 million titles sort in seconds there.
"""
import json
import os

import numpy as np

from . import fold as folding
from .errors import WikisearchError
from .titlesort import build_hash, gather, hash_lookup, sort_pages

MAX_NAMESPACES = 64    # titleindex.pxd NS_MAX
MAX_HOPS = 8            # rounds of pointer doubling: chains of up to 2**8 redirects settle (MediaWiki follows one)


class TitleCollector:
    """Streams titles and folded names to files while the dump is scanned."""

    def __init__(self, tmpdir, namespaces):
        self.tmpdir = tmpdir
        self.names = {k: v for k, v in namespaces.items()}              # ns -> "Category"
        self.prefixes = {v.casefold(): k for k, v in namespaces.items() if v}
        self.titles_path = os.path.join(tmpdir, "titles.bin")
        self.keys_path = os.path.join(tmpdir, "fkeys.tmp")
        self.ft = open(self.titles_path, "wb", buffering=1 << 20)
        self.fk = open(self.keys_path, "wb", buffering=1 << 20)
        import array
        self.tlen = array.array("I")
        self.klen = array.array("I")
        self.ns = array.array("i")
        self.skip = array.array("B")
        self.redirects = []               # (page, raw target title bytes)
        self.table = folding.tables()[0]

    def add(self, page, title, ns_raw, redirect_raw):
        """title: validated, unescaped UTF-8 bytes."""
        ts = title.decode("utf-8")
        skip = 0
        if ns_raw is not None:
            ns = int(ns_raw)
        else:                              # old dumps without <ns>: from the prefix
            ns = 0
            head, sep, _ = ts.partition(":")
            if sep and head.casefold() in self.prefixes:
                ns = self.prefixes[head.casefold()]
        if ns:
            name = self.names.get(ns)
            if name and ts.startswith(name + ":"):
                skip = len(name.encode("utf-8")) + 1
            elif ":" in ts:
                skip = len(ts.split(":", 1)[0].encode("utf-8")) + 1
            if skip > 255:
                skip = 0
        key = ts[len(title[:skip].decode("utf-8")):].translate(self.table).encode("utf-8")
        self.ft.write(title)
        self.fk.write(key)
        self.tlen.append(len(title))
        self.klen.append(len(key))
        self.ns.append(ns)
        self.skip.append(skip)
        if redirect_raw is not None:
            self.redirects.append((page, redirect_raw))

    def close(self):
        self.ft.write(b"\0")
        self.fk.write(b"\0")
        self.ft.close()
        self.fk.close()


def _offsets(lengths):
    off = np.zeros(len(lengths) + 1, dtype=np.uint64)
    np.cumsum(np.frombuffer(lengths, dtype=np.uint32), out=off[1:])
    if off[-1] >= 1 << 32:
        raise WikisearchError("titles take %d bytes; this index format holds at most 4 GiB of titles"
                              % int(off[-1]))
    return off.astype(np.uint32)


def _target_title(raw, namespaces, unescape):
    """A redirect's target title as MediaWiki stores titles: no #fragment, spaces for
    underscores, first letter of the name upper-case. None if empty or malformed
    (the redirect then shows its own page, like one to a missing page)."""
    if not raw.strip():
        return None
    try:
        t = unescape(raw)
    except WikisearchError:
        return None
    t = t.decode("utf-8").split("#", 1)[0].replace("_", " ").strip()
    if not t:
        return None
    head, sep, rest = t.partition(":")
    if sep:
        for k, v in namespaces.items():
            if v and head.strip().casefold() == v.casefold():
                return v + ":" + folding.upper_first(rest.strip())
    return folding.upper_first(t)


def build_title_arrays(col, namespaces, unescape, log=None):
    """Write the title files into col.tmpdir; returns manifest fields."""
    tmp = col.tmpdir
    col.close()
    n = len(col.tlen)
    toff = _offsets(col.tlen)
    koff_pages = _offsets(col.klen)
    del col.tlen, col.klen
    titles = np.fromfile(col.titles_path, dtype=np.int8)
    fkeys = np.fromfile(col.keys_path, dtype=np.int8)
    ns = np.frombuffer(col.ns, dtype=np.int32)
    skip = np.frombuffer(col.skip, dtype=np.uint8)

    # exact-title hash table; duplicates found on the way (the first page wins)
    size = 16
    while size < 2 * n:
        size *= 2
    slots = np.full(size, -1, dtype=np.int32)
    dup = np.zeros(n, dtype=np.uint8)
    dups = build_hash(titles, toff, slots, dup)

    # redirects -> targets, through chains; a missing target or a cycle leaves the stub
    targets = np.arange(n, dtype=np.int32)
    resolved = missing = 0
    for page, raw in col.redirects:
        t = _target_title(raw, namespaces, unescape)
        q = hash_lookup(titles, toff, slots, t.encode("utf-8")) if t else -1
        if q >= 0 and q != page:
            targets[page] = q
            resolved += 1
        else:
            missing += 1
    col.redirects = None
    for _ in range(MAX_HOPS):
        nxt = targets[targets]
        if np.array_equal(nxt, targets):
            break
        targets = nxt
    unsettled = targets[targets] != targets
    targets[unsettled] = np.nonzero(unsettled)[0].astype(np.int32)
    targets[dup.astype(bool)] = -1

    name_order = sort_pages("name", ns, titles, toff, skip)
    key_pages = sort_pages("key", ns, titles, toff, skip, fkeys, koff_pages)
    keys = np.lib.format.open_memmap(os.path.join(tmp, "keys.npy.tmp"), mode="w+", dtype=np.int8,
                                     shape=(len(fkeys),))
    koff = np.zeros(n + 1, dtype=np.uint32)
    gather(fkeys, koff_pages, key_pages, keys, koff)
    keys[len(fkeys) - 1] = 0
    with open(os.path.join(tmp, "keys.bin"), "wb") as f:
        keys.tofile(f)
    del keys, fkeys
    os.unlink(os.path.join(tmp, "keys.npy.tmp"))
    os.unlink(col.keys_path)

    # namespace ranges (the same in both orders)
    sorted_ns = ns[name_order]
    ranges = []
    for k in np.unique(sorted_ns):
        lo = int(np.searchsorted(sorted_ns, k, "left"))
        hi = int(np.searchsorted(sorted_ns, k, "right"))
        ranges.append([int(k), namespaces.get(int(k), ""), lo, hi])
    if len(ranges) > MAX_NAMESPACES:     # titleindex.NS_MAX: the server could not load it
        raise WikisearchError("the dump has pages in %d namespaces; this index format holds at most %d"
                              % (len(ranges), MAX_NAMESPACES))

    for name, a in (("title_offsets", toff), ("name_skip", skip), ("namespaces", ns),
                    ("targets", targets), ("key_offsets", koff), ("key_pages", key_pages),
                    ("name_order", name_order), ("title_hash", slots)):
        np.save(os.path.join(tmp, name + ".npy"), a)
    with open(os.path.join(tmp, "fold.json"), "w") as f:
        json.dump(folding.table_json(), f)
    redirects = int(np.count_nonzero(targets != np.arange(n)) - np.count_nonzero(targets < 0))
    return {"titles": n - int(dups), "duplicate_titles": int(dups), "namespaces": ranges,
            "redirects": resolved + missing, "redirects_resolved": redirects,
            "redirects_missing_target": missing}


ARRAYS = {  # name in WikiIndex.arrays -> (file, dtype)
    "titles": ("titles.bin", np.int8),
    "keys": ("keys.bin", np.int8),
    "title_offsets": ("title_offsets.npy", np.uint32),
    "name_skip": ("name_skip.npy", np.uint8),
    "namespaces": ("namespaces.npy", np.int32),
    "targets": ("targets.npy", np.int32),
    "key_offsets": ("key_offsets.npy", np.uint32),
    "key_pages": ("key_pages.npy", np.int32),
    "name_order": ("name_order.npy", np.int32),
    "title_hash": ("title_hash.npy", np.int32),
}
FILES = [f for f, _ in ARRAYS.values()] + ["fold.json"]
