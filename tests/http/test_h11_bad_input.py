"""Malformed and hostile requests (RFC 9112): each gets a 4xx/5xx and the
connection closed, and a NEW connection is served correctly afterwards.

Expectations are per server where RFC 9110/9112 leave room (limits are the
implementation's; some leniency is allowed): EXPECT[case] = (pxcy, nginx), each a
set of statuses; 200 in nginx's set means nginx (legitimately or not, see the
comment) accepts the request."""
import pytest

from rawhttp import Conn, ServerClosed, get

GET = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n"


def hdrs(n, size):
    return b"".join(b"X-H%d: %s\r\n" % (i, b"v" * size) for i in range(n))


CASES = {
    # request line
    "extra-token-in-request-line": (b"GET /hello.txt HTTP/1.1 x\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "two-spaces-in-request-line": (b"GET  /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400, 200}),
    "no-target": (b"GET HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "leading-space": (b" GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "method-not-a-token": (b"GE(T /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "tls-client-hello": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n", {400}, {400}),
    "binary-garbage": (bytes(range(1, 32)) + b"\r\n\r\n", {400}, {400}),
    # version
    "http-2.0": (b"GET /hello.txt HTTP/2.0\r\nHost: localhost\r\n\r\n", {505}, {505}),
    "http-3.1": (b"GET /hello.txt HTTP/3.1\r\nHost: localhost\r\n\r\n", {505}, {505}),
    "version-garbage": (b"GET /hello.txt HTXP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "version-letters": (b"GET /hello.txt HTTP/1.x\r\nHost: localhost\r\n\r\n", {400}, {400}),
    "version-lowercase": (b"GET /hello.txt http/1.1\r\nHost: localhost\r\n\r\n", {400}, {400}),
    # target
    "target-non-ascii": (b"GET /caf\xc3\xa9.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400, 200}),
    "target-fragment": (b"GET /hello.txt#x HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, {400, 200}),
    # limits (RFC 9110 leaves them to the server; pxcy: 8 KiB line, 16 KiB of
    # header fields, 64 fields; nginx: 8 KiB buffers x 4, no field count limit)
    "request-line-over-8k": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", {414}, {414}),
    "header-block-over-16k": (GET + hdrs(17, 1000) + b"\r\n", {431}, {200}),
    "header-block-over-40k": (GET + hdrs(40, 1000) + b"\r\n", {431}, {400, 431}),
    "one-header-over-16k": (GET + b"X-Big: " + b"v" * 17000 + b"\r\n\r\n", {431}, {400, 431}),
    "too-many-headers": (GET + hdrs(100, 1) + b"\r\n", {431}, {200}),
    # field syntax
    "bare-cr-in-value": (GET + b"X-A: a\rb\r\n\r\n", {400}, {400}),
    "nul-in-value": (GET + b"X-A: a\x00b\r\n\r\n", {400}, {400}),
    # RFC 9110 5.5: other CTLs are invalid, but recipients MAY retain them
    "ctl-in-value": (GET + b"X-A: a\x01b\r\n\r\n", {400}, {400, 200}),
    "del-in-value": (GET + b"X-A: a\x7fb\r\n\r\n", {400}, {400, 200}),
    "ctl-in-name": (GET + b"X-\x01A: b\r\n\r\n", {400}, {400, 200}),
    "space-before-colon": (GET + b"X-A : b\r\n\r\n", {400}, {400}),
    "tab-before-colon": (GET + b"X-A\t: b\r\n\r\n", {400}, {400}),
    "empty-field-name": (GET + b": b\r\n\r\n", {400}, {400}),
    # nginx skips an invalid field line (ignore_invalid_headers)
    "no-colon": (GET + b"NoColon\r\n\r\n", {400}, {400, 200}),
    "obs-fold": (GET + b"X-A: b\r\n  c\r\n\r\n", {400}, {400}),
    "obs-fold-tab": (GET + b"X-A: b\r\n\tc\r\n\r\n", {400}, {400}),
    "first-field-folded": (b"GET /hello.txt HTTP/1.1\r\n Host: localhost\r\n\r\n", {400}, {400}),
    # Host (RFC 9112 3.2)
    "missing-host-http11": (b"GET /hello.txt HTTP/1.1\r\n\r\n", {400}, {400}),
    "two-hosts": (GET + b"Host: other\r\n\r\n", {400}, {400}),
    # framing / smuggling (RFC 9112 6)
    "content-length-letters": (GET + b"Content-Length: abc\r\n\r\n", {400}, {400}),
    "content-length-negative": (GET + b"Content-Length: -1\r\n\r\n", {400}, {400}),
    "content-length-plus": (GET + b"Content-Length: +1\r\n\r\na", {400}, {400}),
    "content-length-hex": (GET + b"Content-Length: 0x10\r\n\r\n", {400}, {400}),
    "content-length-overflow": (GET + b"Content-Length: 99999999999999999999999\r\n\r\n", {400}, {400}),
    "content-length-differing-list": (GET + b"Content-Length: 1, 2\r\n\r\nab", {400}, {400}),
    "two-different-content-lengths": (GET + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", {400}, {400}),
    "te-and-content-length": (b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}, {400}),
    "cl-then-te": (b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Length: 5\r\n\r\n0\r\n\r\n", {400}, {400}),
    # RFC 9112 6.3: chunked not final -> MUST 400 (pxcy); nginx: 501 unknown coding
    "te-not-chunked": (b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
                       {400}, {400, 501}),
    "te-chunked-twice": (b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                         {400}, {400, 501}),
    "te-in-http10": (b"POST /hello.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}, {400}),
    # RFC 9112 2.2: accepting a bare LF line terminator is optional; pxcy refuses
    "bare-lf": (b"GET /hello.txt HTTP/1.1\nHost: localhost\n\n", {400}, {200}),
    "bare-lf-end-of-head": (GET + b"\n", {400}, {200, 400}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_answered_then_closed(server, case):
    raw, want_pxcy, want_nginx = CASES[case]
    want = want_pxcy if server.name == "pxcy" else want_nginx
    with Conn(server.port) as c:
        c.send(raw)
        try:
            r = c.read_response()
        except ServerClosed as e:
            pytest.fail(f"closed without a response: {e}")
        assert r.status in want, (case, r)
        if r.status >= 400:
            assert c.wait_closed(), f"{case}: connection left open after {r.status}"
            assert len(r.body) == int(r.get("Content-Length", len(r.body)))
        if server.name == "pxcy":
            assert r.get("Connection", "").lower() == "close"
    # a new connection is served correctly
    with Conn(server.port) as c:
        for _ in range(2):
            r = c.request("GET", "/hello.txt")
            assert r.status == 200
            assert r.body == b"Hello, static world!\n"


@pytest.mark.parametrize("case", ["two-different-content-lengths", "te-and-content-length", "bare-lf"])
def test_bad_request_after_good_ones_in_a_pipeline(server, case):
    raw, want_pxcy, want_nginx = CASES[case]
    want = want_pxcy if server.name == "pxcy" else want_nginx
    if 200 in want:
        pytest.skip(f"{server.name} accepts {case}")
    good = b"GET /ten.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with Conn(server.port) as c:
        c.send(good * 3 + raw + good)
        for _ in range(3):
            assert c.read_response().body == b"0123456789"
        assert c.read_response().status in want
        assert c.wait_closed()
        assert b"0123456789" not in c.buf                 # nothing after the bad request


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "FROB", "OPTIONS"])
def test_unsupported_method_on_static_file(server, method):
    # RFC 9110 15.5.6: 405 for a method the resource does not support (pxcy adds
    # Allow); 501 is the answer for a method the server does not recognize at all.
    with Conn(server.port) as c:
        r = c.request(method, "/hello.txt", body=b"x" if method in ("POST", "PUT", "PATCH") else b"")
        if server.name == "pxcy":
            assert r.status == 405
            assert {m.strip() for m in r.get("Allow").split(",")} == {"GET", "HEAD"}
        else:
            assert r.status in (405, 501) or (method == "OPTIONS" and r.status == 200)
        assert b"Hello, static world!" not in r.body
    assert get(server.port, "/hello.txt").status == 200


def test_options_asterisk_on_static_server(server):
    # OPTIONS * asks about the server; a static server allows GET and HEAD only
    with Conn(server.port) as c:
        r = c.request("OPTIONS", "*")
        if server.name == "pxcy":
            assert r.status == 405
            assert {m.strip() for m in r.get("Allow").split(",")} == {"GET", "HEAD"}
            assert c.request("GET", "/hello.txt").status == 200    # the connection goes on
        else:
            assert r.status in (200, 400, 405, 501)                # nginx: 400 and close
    assert get(server.port, "/hello.txt").status == 200


def test_lowercase_method_is_a_distinct_token(server):
    # methods are case-sensitive tokens (RFC 9110 9.1): "get" is not GET. pxcy: an
    # unknown method (405); nginx refuses anything but upper case (400).
    r = get(server.port, "/hello.txt", method="get")
    assert r.status == (405 if server.name == "pxcy" else 400)


def test_http10_without_host_is_fine(server):
    r = get(server.port, "/hello.txt", version="HTTP/1.0")
    assert r.status == 200
    with Conn(server.port) as c:
        r = c.request("GET", "/hello.txt", version="HTTP/1.0", host=False)
        assert r.status == 200


def test_leading_empty_lines_are_skipped(server):
    # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line
    with Conn(server.port) as c:
        c.send(b"\r\n\r\nGET /ten.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert c.read_response().body == b"0123456789"


def test_http09_style_version(server):
    r = None
    with Conn(server.port) as c:
        c.send(b"GET /hello.txt HTTP/0.9\r\nHost: localhost\r\n\r\n")
        r = c.read_response()
    # a well-formed version other than 1.x: 505 (pxcy); nginx: 400
    assert r.status in ((505,) if server.name == "pxcy" else (400, 505))
