"""static/index.html against a stub of the server contract, in headless Chromium.

The stub implements GET /, GET /offsets/<prefix>?limit=N (JSON [[title, start,
end], ...], 400 {"error": ...}) and ranged GET /xml (206) from the session
index. Skipped when no Chromium is installed.
"""
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ws_support import PKG

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium")


@pytest.fixture(scope="module")
def server(index):
    from wikisearch.lookup import TitleTrie
    trie = TitleTrie(index.trie_path)
    with open(os.path.join(PKG, "static", "index.html"), "rb") as f:
        html = f.read()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, body, ctype, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            if u.path == "/":
                return self.reply(200, html, "text/html; charset=utf-8")
            if u.path.startswith("/offsets/"):
                prefix = urllib.parse.unquote_to_bytes(u.path[len("/offsets/"):])
                if prefix == b"bad<b>":
                    return self.reply(400, b'{"error": "bad prefix <b>"}', "application/json")
                limit = int(urllib.parse.parse_qs(u.query).get("limit", ["20"])[0])
                out = [[k.decode(), *index.page_range(p)] for k, p in trie.prefix(prefix, limit)]
                return self.reply(200, json.dumps(out).encode(), "application/json")
            if u.path == "/xml":
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
                s, e = int(m.group(1)), int(m.group(2))
                with open(index.dump_path, "rb") as f:
                    f.seek(s)
                    body = f.read(e - s + 1)
                return self.reply(206, body, "application/xml",
                                  [("Content-Range", "bytes %d-%d/%d" % (s, e, index.dump_size))])
            self.reply(404, b'{"error": "not found"}', "application/json")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    trie.close()


def _dom(url, tmp_path):
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + str(tmp_path / "profile"),
                        "--virtual-time-budget=5000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=60)
    assert "<html" in r.stdout, r.stderr[-2000:]
    return r.stdout


def _by_id(dom, tag, id_):
    m = re.search(r'<%s[^>]*id="%s"[^>]*>(.*?)</%s>' % (tag, id_, tag), dom, re.S)
    return m.group(1) if m else None


def test_search_and_inert_article(server, tmp_path, brute):
    from wikisearch.gen import SCRIPT_TEST_TITLE
    url = server + "/?q=" + urllib.parse.quote("Cross") + "#" + urllib.parse.quote(SCRIPT_TEST_TITLE)
    dom = _dom(url, tmp_path)
    results = _by_id(dom, "ul", "results")
    assert 'data-title="%s"' % SCRIPT_TEST_TITLE in results
    assert _by_id(dom, "h2", "article-title") == SCRIPT_TEST_TITLE
    text = _by_id(dom, "pre", "article-text")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text       # shown as text
    assert dom.count("<script") == 1                              # only the page's own script
    assert "<img" not in dom


def test_error_is_shown_politely(server, tmp_path):
    dom = _dom(server + "/?q=" + urllib.parse.quote("bad<b>"), tmp_path)
    status = _by_id(dom, "div", "status")
    assert "400" in status and "bad prefix &lt;b&gt;" in status
