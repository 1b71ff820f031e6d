"""Fixtures for the wikisearch example: builds its extension in place once,
generates a small dump and indexes it once per session."""
import os
import subprocess
import sys

import pytest

EXAMPLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "wikisearch"))
PKG = os.path.join(EXAMPLE, "wikisearch")

DUMP_PAGES = 5000
DUMP_SEED = 7


def _ext_is_stale():
    import glob
    sos = glob.glob(os.path.join(PKG, "lookup.*.so"))
    if not sos:
        return True
    built = min(os.path.getmtime(p) for p in sos)
    srcs = [os.path.join(PKG, n) for n in ("lookup.pyx", "lookup.pxd", "datrie_c.pxd")]
    return any(os.path.getmtime(s) > built for s in srcs)


def _build_extension():
    if _ext_is_stale():
        r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                           cwd=EXAMPLE, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.exit("building examples/wikisearch failed:\n" + r.stdout[-3000:] + r.stderr[-3000:], 3)


_build_extension()
if EXAMPLE not in sys.path:
    sys.path.insert(0, EXAMPLE)


def run_cli(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = EXAMPLE + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "wikisearch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def dump(tmp_path_factory):
    from wikisearch import gen
    path = str(tmp_path_factory.mktemp("dump") / "wiki.xml")
    gen.generate(path, pages=DUMP_PAGES, seed=DUMP_SEED, progress=False)
    return path


@pytest.fixture(scope="session")
def dump_bytes(dump):
    with open(dump, "rb") as f:
        return f.read()


@pytest.fixture(scope="session")
def index(dump, tmp_path_factory):
    from wikisearch.index import build_index, load_index
    d = str(tmp_path_factory.mktemp("idx") / "wiki.index")
    build_index(dump, d)
    return load_index(d)


@pytest.fixture(scope="session")
def brute(dump_bytes):
    """Pages found by a different method: one regex over the whole file + xml.etree."""
    import re
    import xml.etree.ElementTree as ET
    spans = [(m.start(), m.end()) for m in re.finditer(rb"<page>.*?</page>", dump_bytes, re.S)]
    ns = "{http://www.mediawiki.org/xml/export-0.11/}"
    pages = []
    for (s, e) in spans:
        el = ET.fromstring(dump_bytes[s:e])
        pages.append({
            "start": s, "end": e,
            "title": el.find("title").text,
            "ns": int(el.find("ns").text),
            "redirect": el.find("redirect").get("title") if el.find("redirect") is not None else None,
            "text": el.find("revision/text").text or "",
            "bytes": int(el.find("revision/text").get("bytes")),
            "sha1": el.find("revision/sha1").text,
        })
    # Cross-check with a streaming parse of the whole document.
    titles = [el.text for _, el in ET.iterparse(__import__("io").BytesIO(dump_bytes))
              if el.tag == ns + "title"]
    assert titles == [p["title"] for p in pages]
    return pages
