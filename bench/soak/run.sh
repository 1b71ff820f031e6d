#!/usr/bin/env bash
# Soak pxcy: bench/soak/run.sh [--quick] [--requests N] [--idle N] [--only echo|http]
#   default: 10,000,000 requests per server, then 10,000 idle keep-alive connections
#   --quick: 300,000 requests, 2,000 idle, sampling every 0.1 s (the run is short)
# Servers: pxcy.protocols.echo:Echo, and pxcy.protocols.http11:HelloWorld when present.
# Output: bench/soak/out/<timestamp>/{echo,http}.csv (t, phase, rss, fds, threads every
# second) and summary.json; exit status 0 only when every check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args+=(--requests 300000 --idle 2000 --active-requests 50000 --sample 0.1) ;;
    *) args+=("$1") ;;
  esac
  shift
done
out=${SOAK_OUT:-$here/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
client=$out/client
cc -O2 -Wall -Wextra -pthread -o "$client" "$here/client.c"
if [ "$(ulimit -n)" -lt 20100 ]; then ulimit -n 20100 2>/dev/null || true; fi
exec "$py" "$here/soak.py" --client "$client" --out "$out" "${args[@]}"
