"""Issue 12 review: cases found by attacking the HTTP/1.1 layer (each failed before
its fix, or is a strict xfail naming what is left)."""
import gzip
import os

import pytest

import pxcy
from pxcy.protocols.http11 import Static
from rawhttp import get


@pytest.fixture(scope="module")
def pre(tmp_path_factory):
    root = tmp_path_factory.mktemp("review-pre")
    (root / "a.txt").write_bytes(b"plain a\n")
    (root / "a.txt.gz").write_bytes(gzip.compress(b"plain a\n"))
    (root / "d.txt").write_bytes(b"plain d\n")
    (root / "d.txt.br").mkdir()                       # not a regular file: gzip is next
    (root / "d.txt.gz").write_bytes(gzip.compress(b"plain d\n"))
    (root / "f.txt").write_bytes(b"plain f\n")
    os.mkfifo(root / "f.txt.br")
    (root / "f.txt.gz").write_bytes(gzip.compress(b"plain f\n"))
    s = pxcy.Server(Static(str(root), precompressed=True), "127.0.0.1", 0, workers=1).start()
    yield s.port
    s.stop()


@pytest.mark.parametrize("ae", ["*;q=0, gzip", "gzip, *;q=0", "*;q=0,gzip;q=0.5"])
def test_accept_encoding_explicit_coding_beats_star(pre, ae):
    # RFC 9110 12.5.3: "*" matches only codings not listed; a listed gzip with q > 0 is acceptable
    r = get(pre, "/a.txt", [("Accept-Encoding", ae)])
    assert r.get("Content-Encoding") == "gzip" and gzip.decompress(r.body) == b"plain a\n"


@pytest.mark.parametrize("ae", ["gzip;q=0, *", "*, gzip;q=0", "*;q=0"])
def test_accept_encoding_explicit_refusal_beats_star(pre, ae):
    r = get(pre, "/a.txt", [("Accept-Encoding", ae)])
    assert "Content-Encoding" not in r and r.body == b"plain a\n"


@pytest.mark.parametrize("name", ["d.txt", "f.txt"])
def test_precompressed_br_not_regular_falls_back_to_gzip(pre, name):
    r = get(pre, "/" + name, [("Accept-Encoding", "br, gzip")])
    assert r.status == 200
    assert r.get("Content-Encoding") == "gzip"
    assert gzip.decompress(r.body) == b"plain " + name[0].encode() + b"\n"


@pytest.mark.parametrize("target", ["http:///host", "http://:80/host", "http://?x"])
def test_absolute_form_empty_host_400(app_server, target):
    # RFC 9110 4.2.1: an "http" URI with an empty host is invalid, the recipient MUST reject it
    # (the Host header then cannot stand in: the target's authority wins, RFC 9112 3.2.2)
    from rawhttp import Conn
    with Conn(app_server.port) as c:
        c.send(f"GET {target} HTTP/1.1\r\nHost: good\r\n\r\n")
        assert c.read_response().status == 400


def test_res_file_directory_from_query_reaches_its_index(app_server):
    # a handler serving res.file(query "p"): rel is not the URL path's tail, so a redirect
    # to the path + '/' (/fq/?p=dir) would miss the directory: its index comes directly
    r = get(app_server.port, "/fq?p=dir")
    assert (r.status, r.body) == (200, b"<!doctype html><title>dir</title>dir index\n")
    assert r.get("Location") is None and r.get("Content-Type").startswith("text/html")
    assert get(app_server.port, "/fq?p=dir", method="HEAD").status == 200


@pytest.mark.parametrize("target", ["/idir/", "/fq?p=idir/", "/f/idir/", "/fq?p=idir", "/assets/../idir/"])
def test_an_index_html_that_is_a_directory_is_403(app_server, target):
    # dir/index.html being a directory is never descended into (nor redirected in a loop)
    r = get(app_server.port, target)
    assert r.status in (301, 403) and r.body != b"nested index\n", (target, r.status)
    if r.status == 301:                               # /fq?p=idir: no; /idir without '/': yes
        assert get(app_server.port, r.get("Location")).status == 403


def test_res_file_of_a_mapped_folder_redirects_to_its_slash(app_server):
    # /assets/<x> -> res.file("site/<x>"): rel's last segment is the URL's, so a directory
    # redirects (relative links in its index resolve below /assets/css/)
    r = get(app_server.port, "/assets/css?v=1")
    assert (r.status, r.get("Location")) == (301, "/assets/css/?v=1")
    assert get(app_server.port, "/assets/css/").body == b"css index\n"


@pytest.mark.parametrize("p, status", [("noindex", 404), ("dir/../noindex", 404), ("n", 404),
                                       ("..%2Fetc", 404)])
def test_res_file_directory_from_query_without_index(app_server, p, status):
    r = get(app_server.port, "/fq?p=" + p)
    assert r.status == status and r.get("Location") is None


def test_res_file_directory_from_prefix_arg_redirects(app_server):
    r = get(app_server.port, "/f/dir?x=1")
    assert (r.status, r.get("Location")) == (301, "/f/dir/?x=1")
    assert get(app_server.port, r.get("Location")).body == b"<!doctype html><title>dir</title>dir index\n"


def test_no_interim_response_to_http10(app_server):
    # RFC 9110 15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client
    from rawhttp import Conn
    with Conn(app_server.port) as c:
        c.send("GET /early HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"after hints")
        assert b"103" not in r.raw_head


def test_cli_bad_access_log_says_it_once(tmp_path):
    import subprocess, sys
    bad = str(tmp_path / "no" / "such.log")
    p = subprocess.run([sys.executable, "-m", "pxcy", "static", str(tmp_path), "--port", "0",
                        "--access-log", bad], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.count("cannot open access log") == 1, p.stderr
    assert "No such file or directory" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_205_has_no_content(app_server):
    # RFC 9110 15.3.6: a server MUST NOT generate content in a 205 response (and must
    # frame it: Content-Length: 0 keeps the connection usable)
    from rawhttp import Conn
    with Conn(app_server.port) as c:
        r = c.request("GET", "/status/205")
        assert (r.status, r.get("Content-Length"), r.body) == (205, "0", b"")
        assert c.request("GET", "/items").body == b"list"         # nothing left over in between


def test_101_never_sent(app_server):
    # after a 101 the connection would speak another protocol; HttpProtocol cannot
    # switch, so a handler's send(101) is refused and its request gets a final response
    from rawhttp import Conn
    with Conn(app_server.port) as c:
        r = c.request("GET", "/status/101")
        assert r.status >= 200 and b"101" not in r.raw_head
