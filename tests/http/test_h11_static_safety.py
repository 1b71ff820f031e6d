"""Issue 12, static files: a FIFO never blocks a worker, res.file never leaves the
root, bounded multipart part headers, the directory redirect keeps the query,
dotfiles, nosniff, MIME types, precompressed siblings (like nginx's gzip_static)."""
import gzip
import os
import socket
import time

import pytest

import pxcy
from pxcy.protocols.http11 import Static
from rawhttp import SENTINEL, Conn, build, get, parse_byteranges


@pytest.fixture(scope="module")
def fifo_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fifo")
    os.mkfifo(root / "pipe")
    (root / "ok.txt").write_bytes(b"ok\n")
    s = pxcy.Server(Static(str(root)), "127.0.0.1", 0, workers=1).start()
    yield s.port
    s.stop()


def test_fifo_refused_without_blocking(fifo_server):
    with Conn(fifo_server, timeout=1.0) as c:              # a 4xx within a second
        r = c.request("GET", "/pipe")
        assert 400 <= r.status < 500
    r = get(fifo_server, "/ok.txt")                         # the one worker still serves
    assert (r.status, r.body) == (200, b"ok\n")


@pytest.fixture(scope="module")
def symlink_app(apps, docroot):
    s = pxcy.Server(apps.Routes(docroot["root"], follow_symlinks=True), "127.0.0.1", 0, workers=1).start()
    yield s.port
    s.stop()


@pytest.mark.parametrize("target", ["/f/..%2fsecret.txt", "/f/..%2f..%2fetc%2fpasswd",
                                    "/fq?p=../secret.txt", "/fq?p=..%2fsecret.txt",
                                    "/fq?p=/../../secret.txt", "/fq?p=dir/../../secret.txt",
                                    "/fq?p=%2e%2e/secret.txt"])
def test_res_file_never_leaves_root(app_server, symlink_app, target):
    for port in (app_server.port, symlink_app):
        r = get(port, target)
        assert r.status in (400, 403, 404), (port, target, r.status)
        assert SENTINEL not in r.body


def test_res_file_serves_normalized_arg(app_server):
    assert get(app_server.port, "/fq?p=dir/../hello.txt").body == b"Hello, static world!\n"
    assert get(app_server.port, "/f/dir/a.txt").body == b"dir/a.txt\n"


def test_multipart_300_char_content_type(app_server):
    r = get(app_server.port, "/longtype", [("Range", "bytes=0-1,5-6")])
    assert r.status == 206
    parts = parse_byteranges(r)
    assert [(p[0], p[1], p[4]) for p in parts] == [(0, 1, b"01"), (5, 6, b"56")]
    ctype = "text/" + "a" * 295
    for part in parts:
        assert part[3] == ctype
    assert int(r.get("Content-Length")) == len(r.body)


def test_directory_redirect_keeps_query(server):
    r = get(server.port, "/dir?a=1&b=2")
    assert r.status == 301
    loc = r.get("Location")
    assert loc.endswith("/dir/?a=1&b=2")


def test_dotfiles_refused_by_default(app_server, docroot):
    with open(os.path.join(docroot["root"], ".env"), "wb") as f:
        f.write(b"SECRET=1\n")
    os.makedirs(os.path.join(docroot["root"], ".git"), exist_ok=True)
    with open(os.path.join(docroot["root"], ".git", "config"), "wb") as f:
        f.write(b"[core]\n")
    try:
        for target in ["/.env", "/.git/config", "/%2eenv", "/dir/../.env", "/f/.env"]:
            r = get(app_server.port, target)
            assert r.status == 404, target
    finally:
        os.unlink(os.path.join(docroot["root"], ".env"))
        os.unlink(os.path.join(docroot["root"], ".git", "config"))
        os.rmdir(os.path.join(docroot["root"], ".git"))


def test_dotfiles_served_when_enabled(tmp_path):
    (tmp_path / ".well").write_bytes(b"w\n")
    s = pxcy.Server(Static(str(tmp_path), dotfiles=True), "127.0.0.1", 0, workers=1).start()
    try:
        assert get(s.port, "/.well").body == b"w\n"
    finally:
        s.stop()


def test_nosniff_on_files(app_server):
    r = get(app_server.port, "/hello.txt")
    assert r.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("name,ctype", [("a.mp3", "audio/mpeg"), ("a.webm", "video/webm"),
                                        ("a.avif", "image/avif"), ("a.csv", "text/csv"),
                                        ("a.ttf", "font/ttf"), ("a.js.map", "application/json"),
                                        ("a.wasm", "application/wasm"), ("a.c", "text/x-c")])
def test_mime_types(tmp_path, name, ctype):
    (tmp_path / name).write_bytes(b"x")
    s = pxcy.Server(Static(str(tmp_path)), "127.0.0.1", 0, workers=1).start()
    try:
        assert get(s.port, "/" + name).get("Content-Type").split(";")[0] == ctype
    finally:
        s.stop()


@pytest.fixture(scope="module")
def precompressed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    plain = b"hello precompressed world\n" * 100
    (root / "a.txt").write_bytes(plain)
    (root / "a.txt.gz").write_bytes(gzip.compress(plain))
    (root / "a.txt.br").write_bytes(b"BROTLI-BYTES")        # served as is: content is ours
    (root / "only-gz.css").write_bytes(b"body{}\n")
    (root / "only-gz.css.gz").write_bytes(gzip.compress(b"body{}\n"))
    s = pxcy.Server(Static(str(root), precompressed=True), "127.0.0.1", 0, workers=1).start()
    yield s.port, plain
    s.stop()


def test_precompressed_siblings(precompressed):
    port, plain = precompressed
    r = get(port, "/a.txt", [("Accept-Encoding", "gzip, br")])
    assert (r.get("Content-Encoding"), r.body) == ("br", b"BROTLI-BYTES")
    assert r.get("Vary") == "Accept-Encoding"
    assert r.get("Content-Type").startswith("text/plain")
    r = get(port, "/a.txt", [("Accept-Encoding", "gzip")])
    assert r.get("Content-Encoding") == "gzip" and gzip.decompress(r.body) == plain
    r = get(port, "/a.txt", [("Accept-Encoding", "gzip;q=0, br;q=0")])
    assert "Content-Encoding" not in r and r.body == plain
    assert r.get("Vary") == "Accept-Encoding"
    r = get(port, "/a.txt")
    assert "Content-Encoding" not in r and r.body == plain
    r = get(port, "/only-gz.css", [("Accept-Encoding", "br, gzip")])
    assert r.get("Content-Encoding") == "gzip" and r.get("Content-Type").startswith("text/css")
