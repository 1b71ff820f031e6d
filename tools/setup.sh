#!/usr/bin/env bash
# Set up this checkout for the demo and the tests (`make demo` / `make test` call it;
# idempotent, cheap when nothing changed):
#   1. Debian packages (when root with apt-get; otherwise it lists what is missing)
#   2. a project virtual environment, .venv/ in this checkout (PXCY_VENV overrides),
#      made with $PXCY_PYTHON (default python3); never the system Python itself
#   3. the Python packages the demo and the tests use, into that venv
#   4. pxcy and examples/wikisearch of *this checkout*, installed editable into it
#      and rebuilt in place.
# Every decision comes from the checkout itself: the venv records the checkout it was
# made for and a hash of the inputs of each step, so nothing can be fooled by another
# pxcy on sys.path or by the current directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# nothing from the caller's environment decides which pxcy gets built or imported
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP VIRTUAL_ENV PYTHONNOUSERSITE PXCY_PGO_PHASE PXCY_PGO_DIR \
    PXCY_SKIP_EXTENSIONS
ROOT=$(pwd -P)
VENV=${PXCY_VENV:-$ROOT/.venv}
BASE_PY=${PXCY_PYTHON:-python3}
DEBS="python3 python3-venv python3-dev build-essential gdb iproute2 procps wrk nginx-light haproxy clang h2o liburing-dev
      libclang-rt-14-dev chromium chromium-driver systemd"
# setuptools >= 70.1: editable installs without `wheel`; the rest: the demo and the tests
PIPS="setuptools>=70.1 cython>=3.1 numpy pytest selenium uvloop httptools prometheus_client"
PIP_QUIET=(-q --disable-pip-version-check)
say() { echo "setup: $*"; }

# ---- 1. Debian packages
missing=$(for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs)
if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        say "apt-get install $missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    elif command -v dpkg >/dev/null 2>&1; then
        say "not root or no apt-get: install these Debian packages yourself: $missing" >&2
    fi
fi

# ---- 2. the virtual environment, made for this checkout
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$VENV/.pxcy-$1" ] && [ "$(cat "$VENV/.pxcy-$1")" = "$2" ]; }
stamp() { echo "$2" > "$VENV/.pxcy-$1"; }

if [ ! -x "$VENV/bin/python" ] || ! stamp_ok checkout "$ROOT" \
        || ! "$VENV/bin/python" -c "" 2>/dev/null; then
    # absent, made for another checkout (scripts hold absolute paths), or broken
    [ -e "$VENV" ] && say "recreating $VENV (made for another checkout or broken)"
    rm -rf "$VENV"
    say "creating $VENV with $BASE_PY"
    "$BASE_PY" -m venv "$VENV"
    stamp checkout "$ROOT"
fi
PY=$VENV/bin/python

# ---- 3. Python packages (redone when this script changes)
want=$(hash_of tools/setup.sh)
if ! stamp_ok packages "$want"; then
    say "pip install $PIPS"
    "$PY" -m pip install "${PIP_QUIET[@]}" $PIPS
    stamp packages "$want"
    rm -f "$VENV/.pxcy-editable"
fi

# ---- 4. this checkout's pxcy and wikisearch, editable, then rebuilt in place
# An honest check of what the venv imports: isolated mode (-I: no cwd, no PYTHONPATH,
# no user site) from / — the source folder cannot answer for an installed package.
imports_from() {
    (cd / && "$PY" -I -c "import os, $1; print(os.path.realpath($1.__file__))" 2>/dev/null) || true
}
want=$(hash_of pyproject.toml setup.py examples/wikisearch/pyproject.toml examples/wikisearch/setup.py)
if ! stamp_ok editable "$want" || [[ "$(imports_from pxcy)" != "$ROOT"/pxcy/* ]]; then
    say "pip install -e . (pxcy from $ROOT)"
    # the extensions are built in place below, once (pip would compile them in a
    # temporary folder, for nothing)
    PXCY_SKIP_EXTENSIONS=1 "$PY" -m pip install "${PIP_QUIET[@]}" --no-build-isolation --no-deps -e .
    rm -f "$VENV/.pxcy-editable"     # (the built extensions are untouched: their stamp stands)
fi
# pxcy's extensions: profile-guided (tools/pgo_build.py, GCC; about half a minute more
# than a plain build), PXCY_PGO=0 plain; rebuilt whenever their sources or the build
# switches changed since the last build made here, or the built files did (a clean, a
# plain build by hand). Up to date, nothing runs: even an incremental build_ext would
# recompile, plain, what a checkout merely touched
pgo=${PXCY_PGO:-1}
built_state() {
    { ls -l --time-style=+%s pxcy/*.so pxcy/protocols/*.so 2>/dev/null || true; } |
        awk '{print $5, $6, $7}' | sha256sum | cut -c1-16
}
build_want=$( { echo "pgo=$pgo debug=${PXCY_DEBUG_BUILD:-} sanitize=${PXCY_SANITIZE:-}"
                find pxcy -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' \) -print0 |
                    LC_ALL=C sort -z | xargs -0 cat setup.py tools/pgo_build.py tools/pgo_train.py; } |
              sha256sum | cut -c1-16)
if stamp_ok build "$build_want $(built_state)"; then
    :
elif [ "$pgo" != 0 ]; then
    say "building pxcy profile-guided (tools/pgo_build.py; PXCY_PGO=0 for a plain build)"
    rm -f "$VENV/.pxcy-build"
    rc=0
    "$PY" tools/pgo_build.py || rc=$?
    if [ "$rc" = 3 ]; then
        say "pxcy was built plain this time (see above); the next setup tries again"
    elif [ "$rc" != 0 ]; then
        exit "$rc"
    else
        stamp build "$build_want $(built_state)"
    fi
else
    say "building pxcy plain (PXCY_PGO=0)"
    rm -f "$VENV/.pxcy-build"
    "$PY" setup.py -q build_ext --inplace --force >/dev/null  # (--force: replaces a profile-guided one)
    stamp build "$build_want $(built_state)"
fi
if [ -f examples/wikisearch/setup.py ]; then
    if ! stamp_ok editable "$want" || [[ "$(imports_from wikisearch)" != "$ROOT"/examples/wikisearch/* ]]; then
        say "pip install -e examples/wikisearch"
        PXCY_SKIP_EXTENSIONS=1 "$PY" -m pip install "${PIP_QUIET[@]}" --no-build-isolation --no-deps \
            -e examples/wikisearch
    fi
    (cd examples/wikisearch && "$PY" setup.py -q build_ext --inplace >/dev/null)
fi
stamp editable "$want"
got=$(imports_from pxcy)
if [[ "$got" != "$ROOT"/pxcy/* ]]; then
    echo "setup: error: $PY imports pxcy from ${got:-nowhere}, not from $ROOT" >&2
    exit 1
fi
