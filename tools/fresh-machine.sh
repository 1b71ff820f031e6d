#!/usr/bin/env bash
# The README's two commands on a really fresh Debian 12, as a new user would run them:
#   debootstrap a minimal bookworm (python3, git, make, ca-certificates only) into a
#   temporary folder, clone this repository (its committed HEAD) into it twice, and in a
#   chroot (proc, sys, dev mounted) run `make demo` in one clone (then fetch the search
#   page and an API answer from the running demo, and stop it) and `make test` in the
#   other. Prints a summary, unmounts everything and deletes the folder, also on failure.
#
#   tools/fresh-machine.sh [--keep] [-- PYTEST ARGS]   (root; takes many minutes)
#
# --keep leaves the folder (unmounted) for inspection. PYTEST ARGS replace `-q` for
# make test (e.g. `-- -q -x tests/test_project.py`). The host's apt sources and pip
# configuration are copied in (local file:// indexes and find-links folders they name
# are bind-mounted read-only), so the chroot reaches the same registries as the host.
set -euo pipefail
# The whole script is one function, parsed before it runs: editing this file while it
# runs (it takes many minutes) cannot change what the running copy does.
main() {
REPO=$(cd "$(dirname "$0")/.." && pwd -P)
KEEP=0
PYTEST_ARGS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) KEEP=1 ;;
        --) shift; PYTEST_ARGS="$*"; break ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "fresh-machine: error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "fresh-machine: error: must run as root (debootstrap, chroot, mount)" >&2; exit 2; }
log() { echo "fresh-machine: [$(date +%T)] $*"; }

if ! command -v debootstrap >/dev/null; then
    log "apt-get install debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

WORK=$(mktemp -d /var/tmp/pxcy-fresh.XXXXXX)
TARGET=$WORK/root
MOUNTS=()          # mounted paths, in mount order

cleanup() {
    local rc=$? i
    set +e
    # processes still running inside the chroot (a demo left by a failure): by PID
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$TARGET" ] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    sleep 0.5
    # mounts made inside the chroot (e.g. /run/netns by `ip netns add`), deepest first
    grep -o " $TARGET/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
        case " ${MOUNTS[*]} " in *" $m "*) ;; *) umount "$m" 2>/dev/null || umount -l "$m" ;; esac
    done
    for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
    done
    if grep -q " $WORK" /proc/self/mounts; then
        echo "fresh-machine: error: mounts left under $WORK, not deleting it:" >&2
        grep " $WORK" /proc/self/mounts >&2
        exit 1
    fi
    if [ "$KEEP" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf --one-file-system "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() {  # bind SRC DST [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    MOUNTS+=("$2")
    [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
    return 0
}

log "debootstrap bookworm into $TARGET"
t0=$(date +%s)
debootstrap --variant=minbase --include=python3,git,make,ca-certificates bookworm "$TARGET" \
    http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
log "debootstrap done in $(( $(date +%s) - t0 )) s"

# what the Debian installer writes and debootstrap does not: localhost and a host name
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpxcy-fresh\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$TARGET/etc/hosts"
echo pxcy-fresh > "$TARGET/etc/hostname"
# the host's registry configuration: DNS, apt sources, pip configuration
cp /etc/resolv.conf "$TARGET/etc/resolv.conf"
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    cp /etc/apt/sources.list.d/*.sources "$TARGET/etc/apt/sources.list.d/"
    : > "$TARGET/etc/apt/sources.list"
fi
for f in /etc/pip.conf /etc/xdg/pip; do
    [ -e "$f" ] && mkdir -p "$TARGET$(dirname "$f")" && cp -r "$f" "$TARGET$f"
done
# local CA certificates (e.g. a proxy's): the chroot's bundle must trust them as the host's does
if ls /usr/local/share/ca-certificates/* >/dev/null 2>&1; then
    cp -r /usr/local/share/ca-certificates/. "$TARGET/usr/local/share/ca-certificates/"
    chroot "$TARGET" /usr/sbin/update-ca-certificates >/dev/null 2>&1
fi
pip_env=()
for v in $(env | grep -o '^PIP_[A-Z_]*' || true); do pip_env+=("$v=${!v}"); done
# local folders named by the pip configuration (file:// indexes, find-links)
for d in $( (cat /etc/pip.conf /etc/xdg/pip/*.conf 2>/dev/null; env | grep '^PIP_') \
            | grep -oE '(file://)?/[^ "'\'']+' | sed 's|^file://||' | sort -u); do
    [ -d "$d" ] && bind "$d" "$TARGET$d" ro
done

bind /proc "$TARGET/proc"
bind /sys "$TARGET/sys"
bind /dev "$TARGET/dev"
bind /dev/pts "$TARGET/dev/pts"
bind /dev/shm "$TARGET/dev/shm"

COMMIT="$(git -C "$REPO" rev-parse --short HEAD) ($(git -C "$REPO" rev-parse --abbrev-ref HEAD))"
log "git clone $REPO: $COMMIT"
git clone -q "$REPO" "$TARGET/root/demo-clone"
git clone -q "$REPO" "$TARGET/root/test-clone"

in_chroot() {
    chroot "$TARGET" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${pip_env[@]}" \
        /bin/bash -c "$1"
}

# ---- make demo: sets everything up from nothing, then serves; fetch a page and an API answer
log "make demo (in /root/demo-clone)"
t0=$(date +%s)
demo_rc=0
in_chroot '
    set -u
    cd /root/demo-clone
    setsid make demo DEMO_ARGS="--port 0" >/root/demo.log 2>&1 &
    pid=$!
    url=""
    for i in $(seq 1 3600); do           # setup takes minutes; at most an hour
        url=$(grep -o "search page: http://[^ ]*" /root/demo.log | cut -d" " -f3 || true)
        [ -n "$url" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 1
    done
    if [ -z "$url" ]; then
        echo "demo did not start:"; tail -30 /root/demo.log; kill -TERM -- -$pid 2>/dev/null; exit 1
    fi
    echo "demo serving at $url"
    .venv/bin/python - "$url" <<"EOF"
import json, sys, urllib.request
url = sys.argv[1]
page = urllib.request.urlopen(url, timeout=30).read()
assert b"<html" in page.lower(), page[:200]
print("GET / -> %d bytes of HTML" % len(page))
api = urllib.request.urlopen(url + "offsets/A", timeout=30)
body = api.read()
print("GET /offsets/A -> %s, %d bytes: %s" % (api.headers.get("Content-Type"), len(body), body[:120]))
json.loads(body)
EOF
    rc=$?
    kill -TERM -- -$pid                  # make and the server: the server stops gracefully
    wait $pid
    for i in $(seq 1 150); do kill -0 -- -$pid 2>/dev/null || break; sleep 0.2; done
    echo "--- demo output:"; cat /root/demo.log
    grep -q "^wikisearch: stopped" /root/demo.log || { echo "demo did not stop cleanly"; rc=1; }
    exit $rc
' || demo_rc=$?
demo_s=$(( $(date +%s) - t0 ))
log "make demo: exit status $demo_rc after $demo_s s"

# ---- make test in a second fresh clone (the Debian packages are there by now)
log "make test (in /root/test-clone)"
t0=$(date +%s)
test_rc=0
if [ -n "$PYTEST_ARGS" ]; then
    in_chroot "cd /root/test-clone && tools/setup.sh && .venv/bin/python -m pytest $PYTEST_ARGS" \
        2>&1 | tee "$WORK/test.log" || test_rc=${PIPESTATUS[0]}
else
    in_chroot "cd /root/test-clone && make test" 2>&1 | tee "$WORK/test.log" || test_rc=${PIPESTATUS[0]}
fi
test_s=$(( $(date +%s) - t0 ))
log "make test: exit status $test_rc after $test_s s"

echo
echo "fresh-machine summary: $COMMIT on Debian $(cat "$TARGET/etc/debian_version"):"
echo "  make demo: $([ $demo_rc = 0 ] && echo ok || echo FAILED) ($demo_s s, exit status $demo_rc)"
echo "  make test: $([ $test_rc = 0 ] && echo ok || echo FAILED) ($test_s s, exit status $test_rc): $(grep -E '[0-9]+ (passed|failed|errors?)\b' "$WORK/test.log" | tail -1)"
[ $demo_rc = 0 ] && [ $test_rc = 0 ]
}
main "$@"
exit
