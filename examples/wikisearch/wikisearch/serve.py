"""`wikisearch serve` and `wikisearch demo`: load an index once, serve it from pxcy workers."""
import os
import sys

from .errors import WikisearchError

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "index.html")
DEFAULT_DEMO_DIR = os.path.join("data", "wikisearch")
DEMO_PAGES = 100_000
DEMO_SEED = 1


def serve(index_dir, host="127.0.0.1", port=8080, workers=None, banner=None, drain=None,
          metrics=False, listen=None, reuse_port=False):
    """Serve the index in index_dir until SIGINT/SIGTERM (then exit cleanly)."""
    import pxcy
    from . import server
    from .index import load_index

    index = load_index(index_dir)
    workers = workers or os.cpu_count() or 1
    if workers > server.MAX_SERVER_WORKERS:
        raise WikisearchError("--workers: at most %d" % server.MAX_SERVER_WORKERS)
    with open(PAGE, "rb") as f:
        html = f.read()
    server.load(index, html, workers)
    try:
        app = server.WikiSearch()
        app.operations(metrics=metrics)
        srv = pxcy.Server(app, host, port, workers=workers, listen=listen, reuse_port=reuse_port,
                          drain=drain)
        try:
            srv.start()
        except OSError as e:
            if e.strerror and e.strerror.startswith("cannot listen"):
                raise WikisearchError(e.strerror) from None
            raise WikisearchError("cannot listen on %s:%s: %s" % (host, port, e.strerror or e)) from None
        url = "http://%s:%d/" % ("[%s]" % host if ":" in host else host, srv.port)
        if listen:
            url = ", ".join(srv.addresses)

        def ready():
            if banner:
                print(banner, flush=True)
            print("wikisearch: %d pages of %s (%.1f MB), %d worker%s; search page: %s"
                  % (index.page_count, index.dump_path, index.dump_size / 1e6, workers,
                     "s" if workers != 1 else "", url), flush=True)
        srv.serve_forever(on_ready=ready)
        n = server.requests_served()
        print("wikisearch: stopped (%d request%s served)" % (n, "" if n == 1 else "s"), flush=True)
    finally:
        server.unload()
    return 0


def prepare_demo(data_dir=DEFAULT_DEMO_DIR, pages=DEMO_PAGES, seed=DEMO_SEED, log=None):
    """Generate the synthetic dump and its index if they are not there yet; returns the
    index directory. Deterministic: the same pages/seed give the same dump."""
    from . import gen
    from .index import build_index, load_index

    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    os.makedirs(data_dir, exist_ok=True)
    dump = os.path.join(data_dir, "synthetic-%d-seed%d.xml" % (pages, seed))
    index_dir = dump[:-4] + ".index"
    if not os.path.exists(dump):
        log("wikisearch demo: generating %s (%d pages)..." % (dump, pages))
        gen.generate(dump, pages=pages, seed=seed)
    try:
        load_index(index_dir)
    except WikisearchError:
        log("wikisearch demo: indexing %s..." % dump)
        if os.path.isdir(index_dir):
            import shutil
            shutil.rmtree(index_dir)
        res = build_index(dump, index_dir)
        log("wikisearch demo: indexed %d pages in %.1f s (%.1f MB/s)" % (res.pages, res.seconds, res.mb_per_s))
    return index_dir


def demo(data_dir=DEFAULT_DEMO_DIR, pages=DEMO_PAGES, seed=DEMO_SEED, host="127.0.0.1", port=8080,
         workers=None, **serve_opts):
    index_dir = prepare_demo(data_dir, pages, seed)
    return serve(index_dir, host, port, workers, **serve_opts,
                 banner="wikisearch demo: open the URL below and type a few letters (Ctrl-C to stop)")
