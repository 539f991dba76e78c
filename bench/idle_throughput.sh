#!/usr/bin/env bash
# Throughput kept beside 10,000 idle keep-alive connections, with wrk (the external generator):
# for each c10k backend and mode, every round runs GET /plain with 64 connections, then the
# same with N idle connections held open by c10k-load (each sent one request first), then the
# plain run again; the round's ratio is the idle run over the mean of the two around it. The
# server runs one loop on CPU 0, wrk and c10k-load on CPU 1.
#
#   bench/idle_throughput.sh [BUILD_DIR] [ROUNDS] [SECONDS] [IDLE]
#   SERVERS="io_uring:coroutine epoll:fiber" bench/idle_throughput.sh build 5 3 10000
set -euo pipefail
build=${1:-build}; rounds=${2:-5}; secs=${3:-3}; idle=${4:-10000}
servers=${SERVERS:-io_uring:coroutine epoll:coroutine io_uring:fiber epoll:fiber}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

rps() {  # port -> requests/s of one wrk run
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$1/plain" | awk '/Requests\/sec/ {print $2}'
}

port=18400
for s in $servers; do
  backend=${s%%:*}; mode=${s##*:}; port=$((port + 1))
  taskset -c 0 "$build/examples/c10k-server" --port "$port" --threads 1 --backend "$backend" --mode "$mode" \
    --max-requests 0 --keepalive-timeout 600 --no-metrics --stall-threshold-ms 0 > "$work/server.log" 2>&1 &
  server=$!
  for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" > /dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/plain" > /dev/null  # warm-up
  for ((r = 1; r <= rounds; r++)); do
    before=$(rps "$port")
    rm -f "$work/ready"
    taskset -c 1 "$build/bench/load/c10k-load" idle --port "$port" --connections "$idle" --request \
      --ready-file "$work/ready" > "$work/idle.log" 2>&1 &
    holder=$!
    for i in $(seq 300); do [ -f "$work/ready" ] && break; sleep 0.1; done
    [ -f "$work/ready" ] || { echo "the idle connections did not open" >&2; cat "$work/idle.log" >&2; exit 1; }
    with=$(rps "$port")
    kill -INT "$holder"; wait "$holder" 2>/dev/null || true
    sleep 0.5
    after=$(rps "$port")
    ratio=$(awk -v w="$with" -v b="$before" -v a="$after" 'BEGIN {printf "%.3f", w / ((b + a) / 2)}')
    echo "$backend $mode round=$r plain=$before with_idle=$with plain_again=$after ratio=$ratio"
    echo "$backend:$mode $ratio" >> "$work/ratios"
  done
  kill "$server"; wait "$server" 2>/dev/null || true
done

echo "--- throughput beside $idle idle connections over the mean of the runs around it: median (min-max), $rounds rounds"
for s in $servers; do
  awk -v s="$s" '$1 == s {print $2}' "$work/ratios" | sort -g |
    awk -v s="$s" '{v[NR] = $1} END {m = int((NR + 1) / 2); printf "%-20s %.3f (%.3f-%.3f)  target >= 0.97 in every round: %s\n", s, v[m], v[1], v[NR], (v[1] >= 0.97 ? "met" : "not met")}'
done
