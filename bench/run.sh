#!/usr/bin/env bash
# bench/run.sh [--quick] [--only NAME[,NAME..]] [--scaling] [harness options]
# One command: installs what is missing, compiles the C helpers, runs bench/harness.py.
# Writes bench/RESULTS.md (and the README's performance block) from the run's raw data, kept
# under bench/results/<date>-<commit>/ for full runs (scratch: bench/out/<stamp>/).
# bench/run.sh --report-from DIR re-renders from saved raw data. Exit status 1 when a measured
# run failed (any wrk/echo-client error). See docs/benchmarks.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"

# --report-from DIR measures nothing: render straight from the saved raw data
for a in "$@"; do
    if [ "$a" = --report-from ] || [[ "$a" == --report-from=* ]]; then
        exec "$PY" "$HERE/harness.py" "$@"
    fi
done

# BENCH_NO_INSTALL=1: install nothing (offline machines); missing tools make servers "unavailable"
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v h2o >/dev/null 2>&1 || need_apt+=(h2o)
[ -e /usr/include/liburing.h ] || need_apt+=(liburing-dev)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
if ((${#need_apt[@]})) && [ -z "${BENCH_NO_INSTALL:-}" ]; then
    echo "installing: ${need_apt[*]}" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    # a failed install is not fatal: the servers needing it are reported "unavailable"
    { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need_apt[@]}"; } ||
        echo "warning: apt-get install ${need_apt[*]} failed; continuing without" >&2
fi
if [ -z "${BENCH_NO_INSTALL:-}" ] && ! "$PY" -c 'import uvloop, httptools' >/dev/null 2>&1; then
    echo "installing: uvloop httptools" >&2
    "$PY" -m pip install uvloop httptools ||
        echo "warning: pip install uvloop httptools failed; those peers will be unavailable" >&2
fi

mkdir -p "$HERE/out/bin"
for prog in ref_epoll ref_uring echo_client connhold; do
    libs=""; [ "$prog" = ref_uring ] && libs="-luring"
    if [ ! -x "$HERE/out/bin/$prog" ] || [ "$HERE/$prog.c" -nt "$HERE/out/bin/$prog" ]; then
        # without liburing the io_uring reference is reported "unavailable"; the rest must build
        cc -O2 -Wall -o "$HERE/out/bin/$prog" "$HERE/$prog.c" $libs ||
            { [ "$prog" = ref_uring ] && echo "warning: ref_uring not built (liburing-dev missing?)" >&2; } ||
            exit 1
    fi
done

export BENCH_COMMAND="bench/run.sh${*:+ $*}"
# The harness stops every server it started (by PID / own process group) on exit,
# on errors and on Ctrl-C/SIGTERM; exec keeps signals going straight to it.
exec "$PY" "$HERE/harness.py" "$@"
