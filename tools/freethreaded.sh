#!/usr/bin/env bash
# The free-threaded tier: build CPython 3.13t (Debian's python3.13 source package,
# ./configure --disable-gil; a few minutes, cached), build pxcy in place with it
# and run the runtime and Python-route tests on it.
#
#   tools/freethreaded.sh                 # build (once) + test
#   tools/freethreaded.sh --build-only    # just the interpreter
#   tools/freethreaded.sh -- PYTEST ARGS  # other tests
#
# Cache: $PXCY_FT_CACHE (default ~/.cache/pxcy-ft): the source, the install prefix
# ($PXCY_FT_CACHE/prefix) with Cython, pytest and numpy installed into it. The
# machine's own apt lists are untouched (a private sources list and lists dir).
# The in-place build writes *.cpython-313t-*.so beside the normal ones (both coexist).
set -euo pipefail
cache=${PXCY_FT_CACHE:-$HOME/.cache/pxcy-ft}
prefix=$cache/prefix
py=$prefix/bin/python3.13t
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${PXCY_FT_JOBS:-2}
mkdir -p "$cache"

if [ ! -x "$py" ]; then
  src_list=$cache/sources.list
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  echo "deb-src $uri trixie main" > "$src_list"
  mkdir -p "$cache/lists/partial"
  aptopts=(-o Dir::Etc::SourceList="$src_list" -o Dir::Etc::SourceParts=/dev/null
           -o Dir::State::Lists="$cache/lists")
  ( cd "$cache"
    apt-get "${aptopts[@]}" update -qq
    ls python3.13_*.orig.tar.xz >/dev/null 2>&1 || apt-get "${aptopts[@]}" source --download-only python3.13
    d=$(ls -d Python-3.13*/ 2>/dev/null | head -1 || true)
    if [ -z "$d" ]; then
      tar xf "$(ls python3.13_*.orig.tar.xz | head -1)"
      d=$(ls -d Python-3.13*/ | head -1)
    fi
    cd "$d"
    ./configure -q --disable-gil --prefix="$prefix" --without-ensurepip
    nice make -s -j"$jobs"
    make -s install )
  "$py" -m ensurepip
  "$py" -m pip install -q cython pytest numpy setuptools prometheus_client
fi
"$py" -c 'import sys; assert not sys._is_gil_enabled(), "GIL enabled"; print(sys.version)'
[ "${1:-}" = --build-only ] && exit 0
[ "${1:-}" = -- ] && shift

cd "$root"
nice "$py" setup.py -q build_ext --inplace
if [ $# -eq 0 ]; then
  set -- tests/test_runtime.py tests/test_lifecycle.py tests/test_capabilities.py tests/http/test_python_routes.py
fi
# -X gil=0: an extension that did not declare free-threading support must not turn the GIL on
PYTHONPATH=$root exec "$py" -X gil=0 -W error::RuntimeWarning -m pytest -q -p no:cacheprovider "$@"
