"""pxcy apps with routes (apps.Routes, HelloWorld): request bodies (Content-Length,
chunked, limits, 100-continue), handlers, prefix routes, query parameters, the
JSON writer. pxcy only: nginx has no equivalent handlers."""
import email.utils
import json
import random
import re
import time

import pytest

from rawhttp import Conn, build, get

IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                         r" \d{4} \d\d:\d\d:\d\d GMT")


def chunked(body, sizes):
    out, i = bytearray(), 0
    for n in sizes:
        if i >= len(body):
            break
        piece = body[i:i + n]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        i += len(piece)
    if i < len(body):
        out += b"%x\r\n" % (len(body) - i) + body[i:] + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


# ---------------------------------------------------------------------- bodies

def test_content_length_body(app_server):
    body = random.Random(1).randbytes(50_000)
    with Conn(app_server.port) as c:
        r = c.request("POST", "/echo", body=body)
        assert r.status == 200
        assert r.body == body
        # in pieces, on the same connection
        c.send(build("POST", "/echo", body=body)[:100])
        for k in range(100, len(body) + 200, 7000):
            c.send(build("POST", "/echo", body=body)[k:k + 7000])
        assert c.read_response().body == body
        assert c.request("POST", "/echo", [("Content-Length", "0")]).body == b""


def test_chunked_body_many_small_writes(app_server):
    rng = random.Random(2)
    body = rng.randbytes(3000)
    raw = build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + \
        chunked(body, [rng.randint(1, 200) for _ in range(100)])
    with Conn(app_server.port) as c:
        i = 0
        while i < len(raw):
            n = rng.randint(1, 24)
            c.send(raw[i:i + n])
            i += n
            if rng.random() < 0.1:
                time.sleep(0.001)                      # let the server see partial chunks
        r = c.read_response()
        assert r.status == 200
        assert r.body == body
        assert c.request("GET", "/method").body == b"GET"


def test_chunked_extensions_and_trailers(app_server):
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;name=value\r\nhello\r\n1;a;b=\"q\"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
    with Conn(app_server.port) as c:
        c.send(raw)
        assert c.read_response().body == b"hello 0123456789"


def test_pipelined_after_chunked_body(app_server):
    raw = (build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + chunked(b"first body", [3, 3, 4])
           + build("GET", "/q?a=1")
           + build("POST", "/echo", body=b"second")
           + build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + chunked(b"", [])
           + build("GET", "/method"))
    with Conn(app_server.port) as c:
        c.send(raw)
        assert c.read_response().body == b"first body"
        assert json.loads(c.read_response().body) == {"a": "1", "b": None}
        assert c.read_response().body == b"second"
        assert c.read_response().body == b""
        assert c.read_response().body == b"GET"


@pytest.mark.parametrize("bad", [b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabc\r\n0\r\n\r\n",
                                 b"-1\r\n\r\n", b"2\r\nab\r\n0\r\nX-A: \x00\r\n\r\n",
                                 b"ffffffffffffffffff\r\n"])
def test_bad_chunked_body_400(app_server, bad):
    with Conn(app_server.port) as c:
        c.send(build("POST", "/echo", [("Transfer-Encoding", "chunked")]) + bad)
        r = c.read_response()
        assert r.status in (400, 413)
        assert c.wait_closed()
    assert get(app_server.port, "/method").body == b"GET"


def test_body_over_max_body_413(app_server):
    with Conn(app_server.port) as c:           # announced by Content-Length: refused at once
        c.send(build("POST", "/echo", [("Content-Length", str(64 * 1024 + 1))]))
        r = c.read_response()
        assert r.status == 413
        assert c.wait_closed()
    with Conn(app_server.port) as c:           # chunked: refused once it grows past the limit
        c.send(build("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        try:
            for _ in range(20):
                c.send(b"1000\r\n" + b"x" * 4096 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        assert r.status == 413
        assert c.wait_closed()
    body = b"y" * (64 * 1024)                  # exactly max_body is fine
    assert Conn(app_server.port).request("POST", "/echo", body=body).body == body


def test_expect_100_continue(app_server):
    with Conn(app_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response()
        assert interim.status == 100
        assert interim.body == b""
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello"
        # chunked with 100-continue, on the same connection
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        assert c.read_response().status == 100
        c.send(b"3\r\nabc\r\n0\r\n\r\n")
        assert c.read_response().body == b"abc"


def test_expect_100_continue_body_sent_anyway(app_server):
    # the client may send the body without waiting: exactly one final response
    with Conn(app_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
        r = c.read_response()
        if r.status == 100:
            r = c.read_response()
        assert r.status == 200 and r.body == b"hello"
        assert c.request("GET", "/method").body == b"GET"


def test_expect_100_continue_too_large_gets_final_status(app_server):
    with Conn(app_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert r.status == 413                     # no 100 Continue for a body it will refuse
        assert c.wait_closed()


def test_expect_ignored_in_http10(app_server):
    with Conn(app_server.port) as c:
        c.send(b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert c.still_open(0.3)                  # no 100 Continue to an HTTP/1.0 client
        c.send(b"ok")
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok"


# -------------------------------------------------------------------- handlers

def test_plaintext(hello_server):
    r = get(hello_server.port, "/plaintext")
    assert r.status == 200
    assert r.body == b"Hello, World!"
    assert r.get("Content-Type") == "text/plain"
    assert r.get("Content-Length") == "13"
    assert r.get("Server")
    date = r.get("Date")
    assert IMF_FIXDATE.fullmatch(date), date
    parsed = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(parsed - time.time()) < 24 * 3600     # sane, not a timing assertion


def test_json(hello_server):
    r = get(hello_server.port, "/json")
    assert r.status == 200
    assert r.get("Content-Type").split(";")[0] == "application/json"
    assert json.loads(r.body) == {"message": "Hello, World!"}
    assert r.body == b'{"message":"Hello, World!"}'


def test_hello_unknown_path_404(hello_server):
    r = get(hello_server.port, "/nope")
    assert r.status == 404
    r = get(hello_server.port, "/plaintext/")
    assert r.status == 404


def test_hello_pipelined(hello_server):
    with Conn(hello_server.port) as c:
        c.send(build("GET", "/plaintext") * 50 + build("GET", "/json") * 50)
        for i in range(100):
            r = c.read_response()
            assert r.body == (b"Hello, World!" if i < 50 else b'{"message":"Hello, World!"}')
        r = c.request("HEAD", "/plaintext")
        assert r.get("Content-Length") == "13" and r.body == b""


def test_prefix_route_arg_percent_decoded(app_server):
    r = get(app_server.port, "/p/caf%C3%A9/x%2Fy%20z")
    assert r.status == 200 and r.get("X-Route") == "p"
    assert r.body.decode("utf-8") == "café/x/y z"
    assert get(app_server.port, "/p/").body == b""
    assert get(app_server.port, "/p/a+b").body == b"a+b"            # '+' is not a space in a path
    assert get(app_server.port, "/p/%e2%82%ac?x=1").body == "€".encode()   # query not in arg


def test_route_precedence(app_server):
    assert get(app_server.port, "/p/exact").get("X-Route") == "exact"         # exact beats prefix
    r = get(app_server.port, "/p/exactly")
    assert r.get("X-Route") == "p" and r.body == b"exactly"
    r = get(app_server.port, "/p/deeper/x%20y")
    assert r.get("X-Route") == "deeper" and r.body == b"x y"                 # longest prefix
    assert get(app_server.port, "/p/deeper").get("X-Route") == "p"


@pytest.mark.parametrize("path", ["/p/%00", "/p/%zz", "/p/%4"])
def test_prefix_route_bad_escape_400(app_server, path):
    r = get(app_server.port, path)
    assert r.status == 400


def test_query_param_decoding(app_server):
    cases = {
        "/q?a=h%C3%A9llo+w%20x&b=%22%5C": {"a": "héllo w x", "b": '"\\'},
        "/q?b=2&a=1": {"a": "1", "b": "2"},
        "/q?a=1&a=2": {"a": "1", "b": None},
        "/q?b&a=": {"a": "", "b": ""},
        "/q": {"a": None, "b": None},
        "/q?": {"a": None, "b": None},
        "/q?aa=1&ba=2": {"a": None, "b": None},
        "/q?a=%zz": {"a": "%zz", "b": None},    # invalid encoding: the raw value
        "/q?a=%e2%82%ac%2B": {"a": "€+", "b": None},
        "/q?a=x=y": {"a": "x=y", "b": None},
    }
    with Conn(app_server.port) as c:
        for target, want in cases.items():
            r = c.request("GET", target)
            assert r.status == 200, target
            assert json.loads(r.body) == want, target


JSTR = ['say "hi"', "back\\slash\\", "c\x01\x02\x08\x0c\n\r\t\x1f\x7f", "café € 😀",
        "bad \ufffd\ufffd end", "trunc \ufffd", "nul\x00in"]


@pytest.mark.parametrize("i", range(len(JSTR)))
def test_json_writer_escaping(app_server, i):
    r = get(app_server.port, f"/jsonstr/{i}")
    assert r.status == 200
    r.body.decode("utf-8")                           # strictly valid UTF-8
    assert not any(b < 0x20 for b in r.body)        # no raw control characters
    doc = json.loads(r.body)
    s = JSTR[i]
    assert doc == [s, -2 ** 63, 0.1, True, None, {s: []}]


def test_json_invalid_utf8_from_the_request(app_server):
    r = get(app_server.port, "/jsonarg/%FF%FEab%C3")
    assert json.loads(r.body) == {"arg": "\ufffd\ufffdab\ufffd"}
    r = get(app_server.port, "/jsonarg/%ED%A0%80x%C0%AF%F4%90%80%80")   # surrogate, overlong, > U+10FFFF
    arg = json.loads(r.body)["arg"]
    assert arg.replace("\ufffd", "") == "x" and "\ufffd" in arg
    r = get(app_server.port, "/jsonarg/" + "%22%5C%0A%01" * 100)
    assert json.loads(r.body) == {"arg": '"\\\n\x01' * 100}


def test_static_fallback_and_method_on_app(app_server):
    # unmatched routes fall through to the static root; routes see any method
    assert get(app_server.port, "/hello.txt").body == b"Hello, static world!\n"
    assert get(app_server.port, "/method", method="DELETE").body == b"DELETE"
    with Conn(app_server.port) as c:
        assert c.request("POST", "/hello.txt", body=b"x").status == 405
        assert c.request("GET", "/method").body == b"GET"
