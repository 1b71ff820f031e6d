"""HTTP Python routes (issue 13): route_py functions run on the server's Python
threads; answers from bytes/str/dict/list/tuple, exceptions -> 500 and serving on,
pipelined requests behind a Python route answered in order, nogil routes of the
same worker not held up by a slow Python function (checked by ordering, not time).
"""
import http.client
import json
import os
import socket
import threading

import pytest

import pxcy
from pxcy.protocols.http11 import HelloWorld, HttpProtocol

HANG = float(os.environ.get("PXCY_TEST_HANG", "30"))


def app_with(routes, base=HelloWorld):
    app = base()
    app.prepare()
    for args, kw in routes:
        app.route_py(*args, **kw)
    return app


def get(server, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()


def test_answers_bytes_str_json_tuple(serve):
    app = app_with([
        (("/b", lambda req: b"raw bytes"), {}),
        (("/s", lambda req: "<p>caf\u00e9</p>"), {}),
        (("/j", lambda req: {"path": req.path, "q": req.query_param("q"), "n": [1, 2]}), {}),
        (("/l", lambda req: [1, "two"]), {}),
        (("/t", lambda req: (201, {"X-Thing": "yes", "Content-Type": "application/x-t"}, b"made")), {}),
        (("/api/", lambda req: {"arg": req.arg, "m": req.method, "body": req.body.decode(),
                                "ua": req.headers["USER-AGENT"], "missing": req.query_param("zz")}),
         dict(prefix=True, methods=("GET", "POST"))),
    ])
    server = serve(app, workers=1)
    assert get(server, "/b")[::2] == (200, b"raw bytes")
    assert get(server, "/b")[1]["content-type"] == "text/plain"
    st, h, body = get(server, "/s")
    assert (st, h["content-type"], body) == (200, "text/html; charset=utf-8", "<p>caf\u00e9</p>".encode())
    st, h, body = get(server, "/j?q=a%20b&x=1")
    assert st == 200 and h["content-type"] == "application/json"
    assert json.loads(body) == {"path": "/j", "q": "a b", "n": [1, 2]}
    assert json.loads(get(server, "/l")[2]) == [1, "two"]
    st, h, body = get(server, "/t")
    assert (st, h["x-thing"], h["content-type"], body) == (201, "yes", "application/x-t", b"made")
    st, h, body = get(server, "/api/some%20where", "POST", body=b"payload", headers={"User-Agent": "t/1"})
    assert st == 200 and json.loads(body) == {"arg": "some where", "m": "POST", "body": "payload",
                                               "ua": "t/1", "missing": None}
    st, h, body = get(server, "/b", "HEAD")
    assert st == 200 and body == b"" and h["content-length"] == "9"
    assert get(server, "/plaintext")[::2] == (200, b"Hello, World!")
    assert get(server, "/b", "POST")[0] == 405


def test_exception_is_500_with_traceback_once_and_serving_goes_on(serve, capfd):
    def boom(req):
        raise RuntimeError("kaboom-13")
    app = app_with([(("/boom", boom), {}), (("/bad", lambda req: 3.5), {}),
                    (("/ok", lambda req: b"fine"), {})])
    server = serve(app, workers=1)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG)
    for path, want in (("/boom", 500), ("/ok", 200), ("/bad", 500), ("/ok", 200)):
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        assert r.status == want, path
    err = capfd.readouterr().err
    assert err.count("RuntimeError: kaboom-13") == 1 and "Traceback" in err
    assert "returned float" in err


def test_pipelined_behind_python_route_in_order(serve):
    app = app_with([(("/py1", lambda req: b"one"), {}), (("/py2", lambda req: b"two"), {})])
    server = serve(app, workers=1)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(HANG)
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                    for p in (b"/py1", b"/plaintext", b"/py2", b"/plaintext", b"/py1"))
    s.sendall(reqs)
    buf = b""
    while buf.count(b"HTTP/1.1 200") < 5 or not buf.endswith(b"one"):
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in buf.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"one", b"Hello, World!", b"two", b"Hello, World!", b"one"]


def test_slow_python_route_does_not_hold_nogil_routes_of_same_worker(serve):
    gate = threading.Event()
    entered = threading.Event()

    def slow(req):
        entered.set()
        gate.wait(HANG)
        return b"slow done"
    app = app_with([(("/slow", slow), {})])
    server = serve(app, workers=1, python_threads=1)
    a = socket.create_connection(("127.0.0.1", server.port))
    a.settimeout(HANG)
    a.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert entered.wait(HANG)
    for _ in range(20):                     # same (only) worker, while /slow is running
        assert get(server, "/plaintext")[::2] == (200, b"Hello, World!")
    assert not gate.is_set()
    gate.set()
    buf = b""
    while not buf.endswith(b"slow done"):
        chunk = a.recv(65536)
        assert chunk
        buf += chunk
    assert buf.startswith(b"HTTP/1.1 200")


def test_client_gone_while_python_route_runs(serve):
    gate = threading.Event()
    app = app_with([(("/slow", lambda req: gate.wait(HANG) and b"x"), {})])
    server = serve(app, workers=1)
    for _ in range(5):
        a = socket.create_connection(("127.0.0.1", server.port))
        a.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        a.close()
    gate.set()
    assert get(server, "/plaintext")[0] == 200


def test_route_py_checks():
    app = HttpProtocol()
    with pytest.raises(TypeError):
        app.route_py("/x", 3)
    with pytest.raises(ValueError):
        app.route_py("x", lambda r: b"")
    app.route_py("/x", lambda r: b"")
    with pytest.raises(ValueError):
        app.route_py("/x", lambda r: b"")


def test_pxcy_run_serves_python_routes(apps):
    """The tutorial's command: pxcy run apps:Mixed (a Cython route and a Python one)."""
    import signal
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "pxcy", "run", "apps:Mixed", "--port", "0",
                          "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        line = p.stdout.readline()
        assert "serving" in line, (line, p.stderr.read() if p.poll() is not None else "")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])

        class S:
            pass
        s = S()
        s.port = port
        assert get(s, "/fast")[::2] == (200, b"fast")
        st, h, body = get(s, "/report?who=you", "POST", body=b"three little words")
        assert st == 200 and json.loads(body) == {"path": "/report", "who": "you", "words": 3}
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=HANG)
    assert p.returncode == 0, err
