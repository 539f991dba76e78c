#!/usr/bin/env bash
# User-mode instructions per proxied request of c10k-proxy under wrk (callgrind.sh's method),
# in front of an nginx upstream answering GET /plain with "x" over keep-alive connections, as
# bench/proxy.sh runs it. valgrind cannot run io_uring: the proxy runs on epoll.
#
#   bench/callgrind_proxy.sh LABEL [BUILD_DIR]
# Prints "LABEL plain reqs=N Ir/req=M"; the profile stays in /tmp/cg-LABEL.out.
set -euo pipefail
label=$1; build=${2:-build}
up=${UPSTREAM_PORT:-18590}
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
work=$(mktemp -d); trap 'kill "$(cat "$work/up.pid" 2>/dev/null)" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
nginx -c "$(plain_upstream_conf "$work" "$up")" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$up/plain" > /dev/null && break; sleep 0.1; done
"$(dirname "$0")/callgrind.sh" "$label" plain "$build/examples/c10k-proxy" --backend epoll \
  --upstream "127.0.0.1:$up" --pool 128
