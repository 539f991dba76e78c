#!/usr/bin/env bash
# Requests/s and server CPU time per request on GET /plain (a one-byte body), keep-alive,
# c10k-server against nginx (Debian package, one worker, access log off). The server is pinned
# to CPU 0 and wrk to CPU 1; rounds alternate between the servers so drift hits both alike.
#
#   bench/wrk_vs_nginx.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Needs wrk and nginx (apt-get install wrk nginx-light). Prints one line per run, then medians.
set -euo pipefail
build=${1:-build}; rounds=${2:-3}; secs=${3:-10}; conns=${4:-64}
backend=${BACKEND:-epoll}
port_c10k=18080; port_nginx=18081
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port_nginx;
    location = /plain { default_type text/plain; return 200 "x"; }
  }
}
CONF

# Sum of on-CPU nanoseconds of every thread of a process (and its children for nginx).
cpu_ns() {
  local total=0 pid
  for pid in "$@"; do
    for f in /proc/$pid/task/*/schedstat; do
      read -r ns _ < "$f" 2>/dev/null && total=$((total + ns))
    done
  done
  echo $total
}

run_one() {  # name port pids...
  local name=$1 port=$2; shift 2
  local before after out reqs rps
  before=$(cpu_ns "$@")
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/plain")
  after=$(cpu_ns "$@")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local ns_per=$(( (after - before) / reqs ))
  echo "$name rps=$rps cpu_ns_per_req=$ns_per requests=$reqs ${errs}"
  echo "$name $rps $ns_per" >> "$work/results"
}

taskset -c 0 "$build/examples/c10k-server" --port $port_c10k --threads 1 --backend "$backend" > "$work/c10k.log" 2>&1 &
c10k_pid=$!
taskset -c 0 nginx -c "$work/nginx.conf" &
sleep 1
master=$(cat "$work/nginx.pid")
nginx_pids="$master $(pgrep -P "$master" | tr '\n' ' ')"
curl -sf "http://127.0.0.1:$port_c10k/plain" >/dev/null && curl -sf "http://127.0.0.1:$port_nginx/plain" >/dev/null

# Warm-up, not counted.
taskset -c 1 wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$port_c10k/plain" >/dev/null
taskset -c 1 wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$port_nginx/plain" >/dev/null

for ((r = 1; r <= rounds; r++)); do
  run_one "c10k($backend)" $port_c10k $c10k_pid
  # shellcheck disable=SC2086
  run_one nginx $port_nginx $nginx_pids
done

echo "--- medians over $rounds rounds (${secs}s, $conns connections, server on CPU 0, wrk on CPU 1)"
for name in "c10k($backend)" nginx; do
  grep -F "$name " "$work/results" | sort -k2 -n | awk -v n="$name" '{r[NR]=$2} END {printf "%s median rps=%s (min %s, max %s)\n", n, r[int((NR+1)/2)], r[1], r[NR]}'
  grep -F "$name " "$work/results" | sort -k3 -n | awk -v n="$name" '{c[NR]=$3} END {printf "%s median cpu_ns_per_req=%s (min %s, max %s)\n", n, c[int((NR+1)/2)], c[1], c[NR]}'
done
