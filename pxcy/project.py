"""Project tools: `pxcy new` (a project that cythonizes against pxcy) and `pxcy build`.

Templates live in the ``templates/`` folder of the source tree, installed as the
``pxcy.templates`` package. ``templates/common/`` is rendered for every project,
then ``templates/<kind>/`` on top of it (same path: the kind's file wins).
Rendering is plain string replacement of ``{{name}}``-style placeholders in file
contents and paths; a trailing ``.tmpl`` is dropped from file names (so template
sources are never mistaken for real Python/Cython modules) and a leading ``dot-``
becomes ``.``. Each kind has an ``about.txt``: ``key: value`` header lines
(``summary``, ``dependencies``), a ``---`` line, then Markdown that becomes the
"What is inside" part of the README.

`pxcy new` never touches a non-empty target: it renders into a temporary folder
next to the target and renames it into place at the end, so a failure leaves
nothing half-written behind.
"""
import importlib.machinery
import importlib.util
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pxcy
from pxcy.cli import CliError

COMMON = "common"
META = "about.txt"
PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Names that would shadow something a pxcy project imports or its tools rely on.
RESERVED = {
    "pxcy", "test", "tests", "numpy", "cython", "Cython", "setuptools", "pip", "pytest",
    "wheel", "distutils", "pkg_resources", "site", "build", "templates", "main",
    "conftest", "setup",
}


# ------------------------------------------------------------------ templates

def templates_dir():
    """The folder holding the templates (installed package or source checkout)."""
    candidates = []
    try:
        spec = importlib.util.find_spec("pxcy.templates")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates.extend(spec.submodule_search_locations)
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(here, "templates"))                  # installed wheel
    candidates.append(os.path.join(os.path.dirname(here), "templates"))  # source checkout
    for c in candidates:
        if os.path.isdir(os.path.join(c, COMMON)):
            return c
    raise CliError("pxcy's project templates are missing (looked in: "
                   + ", ".join(candidates) + "); reinstall pxcy")


def available_templates(root=None):
    root = root or templates_dir()
    return sorted(d for d in os.listdir(root)
                  if d != COMMON and os.path.isfile(os.path.join(root, d, META)))


def read_meta(root, kind):
    """about.txt -> dict of header fields plus 'about' (the Markdown body)."""
    with open(os.path.join(root, kind, META), encoding="utf-8") as f:
        text = f.read()
    head, sep, body = text.partition("\n---\n")
    if not sep:
        head, body = "", text
    meta = {"summary": "", "dependencies": ""}
    for line in head.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    meta["about"] = body.strip("\n")
    return meta


def _dependencies(extra):
    deps = [f"pxcy>={pxcy.__version__}"] + [d.strip() for d in extra.split(",") if d.strip()]
    return ", ".join(f'"{d}"' for d in deps)


def _target_name(rel):
    parts = []
    for part in rel.split(os.sep):
        if part.startswith("dot-"):
            part = "." + part[4:]
        parts.append(part)
    out = os.path.join(*parts)
    return out[:-5] if out.endswith(".tmpl") else out


def render_text(text, values, where):
    def sub(m):
        key = m.group(1)
        if key not in values:
            raise CliError(f"template bug: unknown placeholder {{{{{key}}}}} in {where}")
        return values[key]
    return PLACEHOLDER.sub(sub, text)


def plan(kind, values, root=None):
    """[(relative output path, rendered text)] for a template kind."""
    root = root or templates_dir()
    files = {}
    for layer in (COMMON, kind):
        base = os.path.join(root, layer)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for fn in sorted(filenames):
                if fn.endswith((".pyc", ".pyo")) or (dirpath == base and fn == META):
                    continue
                src = os.path.join(dirpath, fn)
                rel = os.path.relpath(src, base)
                out = render_text(_target_name(rel), values, rel)
                with open(src, encoding="utf-8") as f:
                    files[out] = render_text(f.read(), values, f"{layer}/{rel}")
    return sorted(files.items())


# ---------------------------------------------------------------------- names

def check_name(name):
    """None if NAME can be a project's top-level package, else CliError."""
    if not NAME_RE.match(name or ""):
        raise CliError(f"invalid project name {name!r}: it becomes the Python package "
                       "name, so use letters, digits and underscores, not starting with a "
                       "digit (e.g. my_server)")
    if keyword.iskeyword(name):
        raise CliError(f"invalid project name {name!r}: it is a Python keyword")
    stdlib = getattr(sys, "stdlib_module_names", ())
    if name in RESERVED or name.lower() in RESERVED or name in stdlib or name in sys.builtin_module_names:
        raise CliError(f"invalid project name {name!r}: it would shadow the module {name!r} "
                       "that Python or pxcy needs; pick another name (e.g. my_{})".format(name.lower()))
    cwd = os.getcwd()
    path = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    try:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin not in (None, "namespace"):
        raise CliError(f"invalid project name {name!r}: a module of that name is already "
                       f"installed ({spec.origin}); `python -m {name}` would be ambiguous, "
                       "pick another name")


# ------------------------------------------------------------------------ new

def _is_nonempty_dir(path):
    try:
        with os.scandir(path) as it:
            return any(True for _ in it)
    except NotADirectoryError:
        return True
    except FileNotFoundError:
        return False


def create_project(name, kind="echo", target=None, root=None):
    """Render template `kind` for project `name` into `target` (default ./name).
    Returns the absolute target path. Raises CliError, writing nothing, on bad input."""
    root = root or templates_dir()
    kinds = available_templates(root)
    if kind not in kinds:
        raise CliError(f"unknown template {kind!r}; available: {', '.join(kinds)}")
    check_name(name)
    target = os.path.abspath(target or name)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise CliError(f"{target} exists and is not a directory; nothing was written")
    if _is_nonempty_dir(target):
        raise CliError(f"{target} exists and is not empty; nothing was written "
                       "(pick another --dir or remove it)")
    meta = read_meta(root, kind)
    values = {
        "name": name,
        "template": kind,
        "summary": meta["summary"],
        "about": render_text(meta["about"], {"name": name, "template": kind}, f"{kind}/{META}"),
        "dependencies": _dependencies(meta.get("dependencies", "")),
        "pxcy_version": pxcy.__version__,
    }
    files = plan(kind, values, root)       # template errors surface before any write

    parent = os.path.dirname(target)
    made = []
    p = parent
    while not os.path.isdir(p):
        made.append(p)
        p = os.path.dirname(p)
    tmp = None
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.pxcy-new-", dir=parent)
        for rel, text in files:
            dest = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "w", encoding="utf-8") as f:
                f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        # rename(2) replaces an empty directory atomically and fails on a non-empty one
        try:
            os.rename(tmp, target)
        except OSError as e:
            raise CliError(f"cannot create {target}: {e.strerror or e}; nothing was written")
        tmp = None
    except OSError as e:
        raise CliError(f"cannot create {target}: {e.strerror or e}; nothing was written")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            for d in made:          # innermost first
                try:
                    os.rmdir(d)
                except OSError:
                    break
    return target


def cmd_new(args):
    target = create_project(args.name, args.template, args.dir)
    rel = os.path.relpath(target)
    shown = rel if not rel.startswith("..") else target
    steps = [
        (f"cd {shown}", ""),
        ("pip install -e . --no-build-isolation", f"compile {args.name}/handler.pyx"),
        ("pytest", "Harness + live-socket tests"),
        (f"python -m {args.name} --port 8080", f"or: pxcy run {args.name}.handler:App"),
    ]
    width = max(len(c) for c, _ in steps) + 2
    print(f"pxcy: created {args.template} project {args.name!r} in {shown}/\n")
    for c, note in steps:
        print(f"  {c:<{width}}# {note}" if note else f"  {c}")
    print(f"\nSee {shown}/README.md for debugging, annotate and gdb.")
    return 0


# ---------------------------------------------------------------------- build

def _filter_tracebacks(lines):
    """Drop Python traceback blocks (the user's error is Cython's or the C compiler's,
    printed above them). Yields the kept lines."""
    skipping = False
    for line in lines:
        if line.startswith("Traceback (most recent call last):"):
            skipping = True
            continue
        if skipping:
            if line.startswith((" ", "\t")) or not line.strip() or line.startswith(
                    ("During handling of the above", "The above exception")):
                continue
            skipping = False
            # the exception line itself: keep only Cython/compiler summaries, shortened
            if "CompileError" in line:
                yield "Cython compile failed: " + line.split(":", 1)[-1].strip() + "\n"
            elif line.startswith("SystemExit"):
                continue
            else:
                yield line
            continue
        yield line


def build_project(path=".", annotate=False, debug=False, verbose=False, out=None):
    """Run `python setup.py build_ext --inplace --force` in `path`. Returns the exit status."""
    out = out or sys.stdout
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "setup.py")):
        raise CliError(f"{path} has no setup.py (is it a pxcy project? create one with `pxcy new`)")
    env = dict(os.environ)
    env["PXCY_FORCE"] = "1"
    env["PXCY_ANNOTATE"] = "1" if annotate else "0"
    env["PXCY_DEBUG_BUILD"] = "1" if debug else "0"
    # the child imports the same pxcy as this process (also when run from a checkout)
    inc = pxcy.get_include()
    # setuptools/wheel version chatter is not the user's business here
    env["PYTHONWARNINGS"] = ",".join(
        w for w in (env.get("PYTHONWARNINGS"), "ignore::FutureWarning:wheel.bdist_wheel") if w)
    env["PYTHONPATH"] = os.pathsep.join([inc] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, "setup.py"] + ([] if verbose else ["-q"]) + ["build_ext", "--inplace", "--force"]
    started = time.time()
    print(f"pxcy: building {path} ({'debug: -O0 -g, .pyx line numbers' if debug else 'release: -O2'}"
          f"{', annotate' if annotate else ''})", file=out, flush=True)
    try:
        proc = subprocess.Popen(cmd, cwd=path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as e:
        raise CliError(f"cannot run {sys.executable}: {e}")
    for line in _filter_tracebacks(proc.stdout):
        out.write(line)
        out.flush()
    rc = proc.wait()
    if rc != 0:
        print(f"pxcy: error: build failed (exit status {rc}); the first error above points "
              "at the .pyx line", file=sys.stderr, flush=True)
        return 1
    built = _find(path, (".so", ".pyd"), started)
    for so in built:
        print(f"pxcy: built {os.path.relpath(so, path)}", file=out)
    if annotate:
        htmls = _find(path, (".html",), started - 1)
        if htmls:
            for h in htmls:
                print(f"pxcy: annotated {h}  (open in a browser: yellow lines call into "
                      "Python; click a line to see its C)", file=out)
        else:
            print("pxcy: warning: no annotated HTML was written (does setup.py honor "
                  "PXCY_ANNOTATE=1?)", file=out)
    if debug:
        pkgs = sorted(d for d in os.listdir(path) if os.path.isfile(os.path.join(path, d, "__main__.py")))
        print(f"pxcy: debug build: `gdb --args {sys.executable} -m {pkgs[0] if pkgs else 'PACKAGE'} --port 8080 "
              "--workers 1`, then "
              "`break handler.pyx:LINE` and `run`; back to -O2 with `pxcy build`", file=out)
    out.flush()
    return 0


def _find(path, exts, since):
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in ("build", ".git", "__pycache__")
                       and not d.endswith(".egg-info")]
        for fn in filenames:
            if fn.endswith(exts):
                p = os.path.join(dirpath, fn)
                if os.path.getmtime(p) >= since:
                    found.append(p)
    return sorted(found)


def cmd_build(args):
    return build_project(args.path, annotate=args.annotate, debug=args.debug,
                         verbose=args.verbose)


# ------------------------------------------------------------------- register

def register(sub):
    try:
        kinds = available_templates()
        root = templates_dir()
        listing = "\n".join(f"  {k:<6} {read_meta(root, k)['summary']}" for k in kinds)
    except CliError:
        kinds, listing = ["echo", "lines", "http"], "  (templates not found)"
    import argparse
    p = sub.add_parser(
        "new", help="create a project: pxcy new NAME [--template KIND]",
        description="Create a pxcy project (a package with a Cython handler, setup.py that "
                    "cythonizes against pxcy, tests, README).",
        epilog="templates:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="project and Python package name (e.g. my_server)")
    p.add_argument("--template", "-t", default="echo", metavar="KIND",
                   help=f"one of: {', '.join(kinds)} (default: echo)")
    p.add_argument("--dir", metavar="PATH", default=None,
                   help="directory to create (default: ./NAME); must not exist or be empty")
    p.set_defaults(func=cmd_new)

    b = sub.add_parser(
        "build", help="rebuild a project's Cython extensions in place",
        description="Run `python setup.py build_ext --inplace --force` in PATH (default: .). "
                    "--annotate writes Cython's HTML report next to each .pyx; --debug builds "
                    "with -O0 -g and .pyx line numbers (for gdb and C compiler messages).")
    b.add_argument("path", nargs="?", default=".", metavar="PATH", help="project directory (default: .)")
    b.add_argument("--annotate", "-a", action="store_true",
                   help="write NAME/handler.html: which lines interact with Python")
    b.add_argument("--debug", action="store_true",
                   help="-O0 -g, #line directives to the .pyx, debug checks (PXCY_DEBUG_BUILD=1)")
    b.add_argument("--verbose", "-v", action="store_true", help="show compiler command lines")
    b.set_defaults(func=cmd_build)
