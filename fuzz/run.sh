#!/usr/bin/env bash
# Build fuzz/fuzz_http.c with libFuzzer + ASan + UBSan and fuzz for SECONDS (default 60).
# Usage: fuzz/run.sh [SECONDS] [extra libFuzzer args...]
# Env: CLANG (default clang), FUZZ_WORKDIR (default: a temp dir), FUZZ_JOBS (default 1).
# Exits non-zero on any crash / sanitizer report / property failure; the crashing
# input is left in $FUZZ_WORKDIR (crash-*): copy it to fuzz/regressions/.
set -euo pipefail
secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cc="${CLANG:-clang}"
work="${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/pxcy-fuzz.XXXXXX")}"
mkdir -p "$work/corpus"
bin="$work/fuzz_http"
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$root/pxcy/protocols/includes" "$here/fuzz_http.c" -o "$bin"
# regressions first: a known crash fails fast
if compgen -G "$here/regressions/*" > /dev/null; then
    "$bin" -runs=0 "$here"/regressions/* > "$work/regressions.log" 2>&1 || {
        cat "$work/regressions.log"; echo "fuzz: regression input failed" >&2; exit 1; }
fi
# fuzz: new inputs go to $work/corpus, seeds are read from fuzz/corpus (not modified)
cd "$work"
set +e
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -jobs="${FUZZ_JOBS:-1}" -workers="${FUZZ_JOBS:-1}" \
    "$@" "$work/corpus" "$here/corpus" > "$work/fuzz.log" 2>&1
rc=$?
set -e
tail -n 25 "$work/fuzz.log"
if [ $rc -ne 0 ] || compgen -G "$work/crash-*" > /dev/null || compgen -G "$work/leak-*" > /dev/null \
    || compgen -G "$work/timeout-*" > /dev/null || compgen -G "$work/oom-*" > /dev/null; then
    echo "fuzz: FAILED (rc=$rc); artifacts in $work:" >&2
    ls "$work" >&2
    exit 1
fi
echo "fuzz: OK (${secs}s, workdir $work)"
