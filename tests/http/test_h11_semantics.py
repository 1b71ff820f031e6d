"""Issue 12, protocol semantics: status lines, routing on the normalized path,
methods, conditionals, Host. pxcy apps (tests/http/apps.pyx) unless marked."""
import email.utils
import os
import time

import pytest

from rawhttp import Conn, build, get

COMMON = [200, 201, 202, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 409,
          410, 412, 413, 422, 429, 451, 500, 502, 503, 504]
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
           308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
           412: "Precondition Failed", 413: "Content Too Large", 422: "Unprocessable Content",
           429: "Too Many Requests", 451: "Unavailable For Legal Reasons",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def test_common_status_codes_exact(app_server):
    with Conn(app_server.port) as c:
        for code in COMMON:
            r = c.request("GET", f"/status/{code}")
            assert (r.status, r.reason) == (code, REASONS[code])
            if code in (204, 304):
                assert "Content-Length" not in r and r.body == b""
            else:
                assert r.body == b"status body\n"
            if 300 <= code < 400:
                assert r.get("Location") == "/elsewhere"


@pytest.mark.parametrize("code,reason", [(299, "Success"), (499, "Client Error"), (599, "Server Error"),
                                         (150, None), (226, "IM Used")])
def test_unlisted_codes_keep_their_number(app_server, code, reason):
    with Conn(app_server.port) as c:
        if code < 200:
            c.send(build("GET", f"/status/{code}"))
            r = c.read_response()
            assert r.status == code and "Content-Length" not in r and r.body == b""
            return
        r = c.request("GET", f"/status/{code}")
        assert (r.status, r.reason) == (code, reason)


def test_interim_103_then_final(app_server):
    with Conn(app_server.port) as c:
        c.send(build("GET", "/early"))
        hint = c.read_response()
        assert hint.status == 103 and hint.reason == "Early Hints"
        assert "Content-Length" not in hint and "Content-Type" not in hint
        assert hint.get("Link") == "</style.css>; rel=preload"
        r = c.read_response()
        assert (r.status, r.body) == (200, b"after hints")
        assert "Link" not in r


def test_percent_encoded_route_bypass(app_server):
    # /guard/ answers 403 over a static root: no spelling of its path reaches a file
    for target in ["/guard/x", "/%67uard/x", "/%67%75%61%72%64/x", "//guard/x", "/./guard/x",
                   "/dir/../guard/x", "/guard%2fx"]:
        r = get(app_server.port, target)
        assert r.status == 403, target


def test_prefix_arg_is_normalized(app_server):
    assert get(app_server.port, "/p/a%2Fb/../c").body == b"a/c"
    assert get(app_server.port, "/p/deeper/%2e/x").get("X-Route") == "deeper"
    assert get(app_server.port, "/p/%2e%2e/deeper/x").status == 404     # "/deeper/x": no route


def test_methods_405_with_allow(app_server):
    with Conn(app_server.port) as c:
        r = c.request("POST", "/q", body=b"x")
        assert r.status == 405
        assert r.get("Allow") == "GET, HEAD, OPTIONS"
        r = c.request("DELETE", "/echo")
        assert r.status == 405 and r.get("Allow") == "POST, PUT, OPTIONS"
        assert c.request("GET", "/echo").status == 405
        assert c.request("HEAD", "/q").status == 200           # HEAD implied by GET
        assert c.request("PUT", "/echo", body=b"abc").body == b"abc"


def test_same_path_two_methods(app_server):
    with Conn(app_server.port) as c:
        assert c.request("GET", "/items").body == b"list"
        r = c.request("POST", "/items", body=b"")
        assert (r.status, r.body) == (201, b"created")
        r = c.request("PATCH", "/items")
        assert r.status == 405 and r.get("Allow") == "GET, HEAD, POST, OPTIONS"


def test_options_answered_with_allow(app_server):
    with Conn(app_server.port) as c:
        r = c.request("OPTIONS", "/items")
        assert r.status == 204 and r.get("Allow") == "GET, HEAD, POST, OPTIONS"
        assert "Content-Length" not in r
        r = c.request("OPTIONS", "/method")                    # a route that takes OPTIONS itself
        assert (r.status, r.body) == (200, b"OPTIONS")


def test_invalid_host_400(server):
    hosts = ["a b", "a/b"] + (["x:port", "[::1", "a@b"] if server.name == "pxcy" else [])
    for host in hosts:
        with Conn(server.port) as c:
            c.send(f"GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n")
            assert c.read_response().status == 400, host


def test_absolute_form_authority_wins(app_server):
    with Conn(app_server.port) as c:
        c.send(b"GET http://target.example:81/host HTTP/1.1\r\nHost: other.example\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"target.example:81")
        assert c.request("GET", "/host", [("Host", "h.example")], host=False).body == b"h.example"


def file_head(port, path):
    r = get(port, path)
    assert r.status == 200
    return r.get("ETag"), r.get("Last-Modified")


def test_if_match_412(server):
    etag, lm = file_head(server.port, "/hello.txt")
    assert get(server.port, "/hello.txt", [("If-Match", etag)]).status == 200
    assert get(server.port, "/hello.txt", [("If-Match", "*")]).status == 200
    assert get(server.port, "/hello.txt", [("If-Match", '"nope", ' + etag)]).status == 200
    assert get(server.port, "/hello.txt", [("If-Match", '"nope"')]).status == 412
    assert get(server.port, "/hello.txt", [("If-Match", "W/" + etag)]).status == 412   # strong only


def test_if_unmodified_since_412(server):
    etag, lm = file_head(server.port, "/hello.txt")
    past = email.utils.formatdate(time.time() - 10 * 365 * 86400, usegmt=True)
    future = email.utils.formatdate(time.time() + 86400, usegmt=True)
    assert get(server.port, "/hello.txt", [("If-Unmodified-Since", past)]).status == 412
    assert get(server.port, "/hello.txt", [("If-Unmodified-Since", future)]).status == 200
    assert get(server.port, "/hello.txt", [("If-Unmodified-Since", lm)]).status == 200
    # If-Match present: If-Unmodified-Since is not evaluated (RFC 9110 13.2.2; nginx
    # evaluates both)
    if server.name == "pxcy":
        assert get(server.port, "/hello.txt", [("If-Match", etag), ("If-Unmodified-Since", past)]).status == 200


def test_if_range_date_needs_strong_validator(app_server, docroot):
    # a file modified just now has a weak Last-Modified: If-Range by date -> 200
    path = os.path.join(docroot["root"], "fresh.txt")
    with open(path, "wb") as f:
        f.write(b"0123456789")
    try:
        lm = get(app_server.port, "/fresh.txt").get("Last-Modified")
        r = get(app_server.port, "/fresh.txt", [("Range", "bytes=0-1"), ("If-Range", lm)])
        st = os.stat(path)
        if st.st_mtime >= time.time() - 1:        # still within the second: weak
            assert r.status == 200 and r.body == b"0123456789"
        old = time.time() - 3600
        os.utime(path, (old, old))
        lm = get(app_server.port, "/fresh.txt").get("Last-Modified")
        r = get(app_server.port, "/fresh.txt", [("Range", "bytes=0-1"), ("If-Range", lm)])
        assert (r.status, r.body) == (206, b"01")
    finally:
        os.unlink(path)
