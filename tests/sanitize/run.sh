#!/usr/bin/env bash
# Run pxcy's runtime tests under AddressSanitizer+UndefinedBehaviorSanitizer or
# ThreadSanitizer, from a sanitized copy of the repository built out of tree (the
# normal in-place build is left alone).
#
#   tests/sanitize/run.sh asan [PYTEST ARGS...]   # ASan + UBSan
#   tests/sanitize/run.sh tsan [PYTEST ARGS...]   # TSan
#
# PYTEST ARGS default to the runtime tests (tests/test_runtime.py,
# tests/test_lifecycle.py, tests/test_cli_debug.py, and tests/test_http*.py when pxcy/protocols/http11.pyx
# exists); pass a file list or -k/-m selection to narrow them.
# Environment: PXCY_SAN_NO_HTTP=1 leaves pxcy/protocols/http11.pyx out of the copy
# (core runtime only: the build is about half as long); PXCY_SAN_DIR=DIR builds (and keeps) the copy in DIR, reusing it when
# it is already built for the same mode and sources; PXCY_SAN_KEEP=1 keeps the temp copy.
# Exit status: pytest's, or 3 when any process (subprocesses included) wrote a
# sanitizer report. Reports land in $WORK/reports/ (printed at the end).
set -u -o pipefail
mode=${1:-}
shift || true
case "$mode" in
  asan) san="address,undefined" ;;
  tsan) san="thread" ;;
  *) echo "usage: $0 asan|tsan [pytest args...]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
# the interpreter binary itself: a wrapper script (pyenv shim) would run bash under
# the preloaded sanitizer, and bash crashes under a preloaded libtsan
py=$("$py" -c 'import sys; print(sys.executable)')

if [ -n "${PXCY_SAN_DIR:-}" ]; then
  work=$PXCY_SAN_DIR; mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/pxcy-$mode.XXXXXX")
  trap '[ "${PXCY_SAN_KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
fi
src=$work/src
reports=$work/reports

# -- copy: tracked files plus untracked, not-ignored ones (work in progress, test support)
cd "$root"
list=$(git ls-files -co --exclude-standard -- pxcy tests fuzz setup.py pyproject.toml templates \
       | grep -Ev '\.(so|o)$|^pxcy/(protocols/)?[^/]*\.c$|^tests/support/[^/]*\.c$' | sort)
if [ "${PXCY_SAN_NO_HTTP:-0}" = 1 ]; then
  # HTTP sources (http11.pyx, its headers, static files CLI) neither built nor stamped
  list=$(echo "$list" | grep -Ev '^pxcy/protocols/(http|static_cli)|^pxcy/protocols/includes/http|^tests/test_http')
fi
# rebuild only when a build input changed (pxcy/, setup.py, the test support module);
# the other files (the tests themselves) are refreshed on every run
stamp=$( { echo "$mode ${PXCY_SAN_NO_HTTP:-0}"
           echo "$list" | grep -E '^(pxcy/|setup\.py$|pyproject\.toml$|tests/support/)' \
             | xargs -d '\n' sha1sum 2>/dev/null; } | sha1sum | cut -c1-40)
copy() {
  echo "$list" | while IFS= read -r f; do
    [ -f "$f" ] || continue
    mkdir -p "$src/$(dirname "$f")"; cp -p "$f" "$src/$f"
  done
}
if [ -f "$src/.san-stamp" ] && [ "$(cat "$src/.san-stamp")" = "$stamp" ]; then
  echo "sanitize: reusing the $mode build in $src"
  copy
else
  rm -rf "$src"; mkdir -p "$src"
  copy
  echo "sanitize: building $mode (-fsanitize=$san) in $src"
  cd "$src"
  build() {
    PXCY_SANITIZE=$san "$py" setup.py -q build_ext --inplace -j 2 >"$work/build.log" 2>&1
  }
  if ! build; then
    if [ -f pxcy/protocols/http11.pyx ]; then
      # the HTTP protocol may be mid-edit: build the runtime without it rather than nothing
      echo "sanitize: build failed with pxcy/protocols/http11.pyx; retrying without it (see $work/build.log)" >&2
      mv pxcy/protocols/http11.pyx "$work/http11.pyx.unbuilt"
      build || { tail -40 "$work/build.log" >&2; exit 2; }
    else
      tail -40 "$work/build.log" >&2; exit 2
    fi
  fi
  # the test support module, sanitized too (distutils honours CFLAGS/LDFLAGS)
  CFLAGS="-g -fno-omit-frame-pointer -fsanitize=$san" LDFLAGS="-fsanitize=$san" \
    PYTHONPATH="$src" "$py" tests/buildutil.py tests/support protos >>"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; exit 2; }
  echo "$stamp" > "$src/.san-stamp"
fi

cd "$src"
if [ $# -eq 0 ]; then
  set -- tests/test_runtime.py tests/test_lifecycle.py tests/test_cli_debug.py
  if [ -f pxcy/protocols/http11.pyx ]; then
    for f in tests/test_http*.py; do [ -f "$f" ] && set -- "$@" "$f"; done
  fi
fi

rm -rf "$reports"; mkdir -p "$reports"
if [ "$mode" = asan ]; then
  preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  # CPython frees little at exit by design: no leak detection. handle_segv=0 keeps
  # pxcy's debug-mode SIGSEGV handler (stale transient pointers) in charge.
  export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:halt_on_error=1:abort_on_error=0:exitcode=99:log_path=$reports/asan:allocator_may_return_null=1:detect_stack_use_after_return=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99:log_path=$reports/ubsan"
else
  preload="$(gcc -print-file-name=libtsan.so)"
  export TSAN_OPTIONS="halt_on_error=0:exitcode=99:log_path=$reports/tsan:suppressions=$here/tsan.supp:second_deadlock_stack=1:report_signal_unsafe=0"
fi
export PYTHONPATH="$src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
export PXCY_STREAM_MB=${PXCY_STREAM_MB:-256}   # test_lifecycle's 2 GiB stream, shortened
echo "sanitize: $mode: pytest $*"
LD_PRELOAD="$preload" "$py" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$work/pytest.log"
rc=${PIPESTATUS[0]}

# any report from any process (the pytest process or the servers it started)
found=$(cat "$reports"/* 2>/dev/null | grep -cE 'ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR: ThreadSanitizer' || true)
found=$(( found + $(grep -cE 'ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer' "$work/pytest.log" || true) ))
if [ "$found" -gt 0 ]; then
  echo "sanitize: $mode: $found sanitizer report(s):" >&2
  for f in "$reports"/*; do [ -f "$f" ] && { echo "== $f" >&2; head -60 "$f" >&2; }; done
  PXCY_SAN_KEEP=1      # keep the copy and the reports for inspection
  echo "sanitize: reports kept in $reports" >&2
  exit 3
fi
echo "sanitize: $mode: no sanitizer reports (pytest exit $rc)"
exit "$rc"
