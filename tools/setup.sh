#!/usr/bin/env bash
# One-time setup on a fresh Debian machine (idempotent; `make` calls it):
# Debian packages the demo and the tests use, Python packages, then pxcy and the
# wikisearch example built in place (editable installs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=.stamp-setup
DEBS="libdatrie-dev wrk nginx-light clang libclang-rt-14-dev chromium chromium-driver"
PIPS="cython>=3.0 numpy datrie pytest selenium uvloop httptools"

if [ ! -f "$STAMP" ] || [ tools/setup.sh -nt "$STAMP" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        missing=$(for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
        if [ -n "$missing" ]; then
            echo "setup: apt-get install $missing"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
        fi
    else
        echo "setup: not root or no apt-get: install these Debian packages yourself: $DEBS" >&2
    fi
    echo "setup: pip install $PIPS"
    $PY -m pip install -q --disable-pip-version-check $PIPS
    touch "$STAMP"
fi

# Editable installs of this checkout (redone when the installed pxcy / wikisearch
# live elsewhere, e.g. another clone), then the extensions rebuilt in place: cheap
# when nothing changed.
here=$(pwd -P)
installed_from() { $PY -c "import os, $1; print(os.path.realpath($1.__file__))" 2>/dev/null; }
case "$(installed_from pxcy)" in
    "$here"/pxcy/*) ;;
    *) $PY -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e . ;;
esac
$PY setup.py -q build_ext --inplace >/dev/null
if [ -f examples/wikisearch/setup.py ]; then
    case "$(installed_from wikisearch)" in
        "$here"/examples/wikisearch/*) ;;
        *) $PY -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e examples/wikisearch ;;
    esac
    (cd examples/wikisearch && $PY setup.py -q build_ext --inplace >/dev/null)
fi
