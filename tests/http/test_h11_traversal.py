"""Nothing outside the document root is ever returned: traversal spellings and
symlinks. base/secret.txt and base/etc/passwd (outside the root) hold SENTINEL."""
import pytest

from rawhttp import SENTINEL
from rawhttp import Conn, get


def assert_nothing_leaked(server, r):
    assert SENTINEL not in r.body
    assert b"root:" not in r.body                      # the real /etc/passwd either
    for secret in server.secrets.values():
        assert secret not in r.body


TRAVERSALS = [
    "/../etc/passwd",
    "/../secret.txt",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e/secret.txt",
    "/a/%2E%2E/%2e%2e/..",
    "/dir/%2e%2e/%2e%2e/secret.txt",
    "/%2f..%2f..",
    "/%2f..%2f..%2fsecret.txt",
    "//etc/passwd",
    "/..%5c..",
    "/..%5c..%5csecret.txt",
    "/..%2f..%2fetc%2fpasswd",
    "/.%2e/secret.txt",
    "/%252e%252e/secret.txt",                         # double-encoded: a literal "%2e%2e" name
    "/hello.txt%00",
    "/%00/../secret.txt",
    "/hello.txt%00.png",
    "/dir/..%00/secret.txt",
    "/../../../../../../../../etc/passwd",
    "/./../secret.txt",
    "/dir/../../secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_refused(server, path):
    with Conn(server.port) as c:
        r = c.request("GET", path)
        assert r.status in (400, 403, 404), (path, r)
        assert_nothing_leaked(server, r)


@pytest.mark.parametrize("path", ["/../etc/passwd", "/%2e%2e/secret.txt", "/hello.txt%00"])
def test_traversal_then_server_still_serves(server, path):
    with Conn(server.port) as c:
        c.request("GET", path)
    assert get(server.port, "/hello.txt").body == b"Hello, static world!\n"


def test_traversal_absolute_form(server):
    r = get(server.port, "http://localhost/../secret.txt")
    assert r.status in (400, 403, 404)
    assert_nothing_leaked(server, r)


@pytest.mark.parametrize("path", ["/link-outside.txt", "/link-outside-rel.txt", "/link-etc/passwd"])
def test_symlink_leading_outside_refused(server, path):
    if server.name == "nginx":
        pytest.skip("nginx's disable_symlinks is off by default: it follows symlinks "
                    "wherever they lead (by design), so this pxcy policy has no nginx reference")
    r = get(server.port, path)
    assert r.status in (403, 404)
    assert_nothing_leaked(server, r)


def test_symlink_inside_root_served(server):
    assert get(server.port, "/link-inside.txt").body == b"Hello, static world!\n"
    assert get(server.port, "/link-dir/a.txt").body == b"dir/a.txt\n"


def test_many_traversals_on_one_connection(server):
    # the 400s of pxcy keep the connection (the request itself was well-formed);
    # nginx closes after a 400: reconnect whenever the server closed
    c = Conn(server.port)
    try:
        for path in TRAVERSALS * 2:
            try:
                r = c.request("GET", path)
            except Exception:
                c.close()
                c = Conn(server.port)
                r = c.request("GET", path)
            assert r.status in (400, 403, 404)
            assert_nothing_leaked(server, r)
            if r.get("Connection", "").lower() == "close":
                c.close()
                c = Conn(server.port)
    finally:
        c.close()
