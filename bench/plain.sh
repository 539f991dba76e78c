#!/usr/bin/env bash
# GET /plain (a one-byte body), keep-alive, under wrk: requests/s, server CPU time per request
# and (for c10k, from its /stats counters) system calls per request, for each c10k backend and
# nginx (Debian package, one worker, access log off). The server runs on CPU 0 with one loop,
# wrk (one thread) on CPU 1; rounds are interleaved across servers so drift hits all alike.
#
#   bench/plain.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
#   BACKENDS="io_uring epoll" NGINX=0 bench/plain.sh build 3 10 64
#   MODES="coroutine fiber" BACKENDS=io_uring NGINX=0 bench/plain.sh   (handlers on fibers too)
#
# Needs wrk and nginx (apt-get install wrk nginx-light). Prints a line per run, then medians
# with min and max.
set -euo pipefail
. "$(dirname "$0")/nginx_plain.sh"
build=${1:-build}; rounds=${2:-3}; secs=${3:-10}; conns=${4:-64}
backends=${BACKENDS:-io_uring epoll epoll-et poll select}
modes=${MODES:-coroutine}  # MODES="coroutine fiber" adds each backend in fiber mode
with_nginx=${NGINX:-1}
base_port=18100; nginx_port=18099
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

# On-CPU nanoseconds of every thread of the given processes.
cpu_ns() {
  local total=0 pid f ns
  for pid in "$@"; do
    for f in /proc/"$pid"/task/*/schedstat; do
      read -r ns _ < "$f" 2>/dev/null && total=$((total + ns))
    done
  done
  echo "$total"
}

stat_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<< "$1"; }

declare -A pids ports
i=0
servers=""
for b in $backends; do
  for m in $modes; do
    name=$b; [ "$m" = coroutine ] || name="$b+$m"
    port=$((base_port + i)); i=$((i + 1))
    taskset -c 0 "$build/examples/c10k-server" --port "$port" --threads 1 --backend "$b" --mode "$m" > "$work/$name.log" 2>&1 &
    pids[$name]=$!; ports[$name]=$port
    servers="$servers $name"
  done
done
backends=$servers
if [ "$with_nginx" = 1 ]; then
  start_nginx_plain "$work" "$nginx_port"
fi
sleep 1
for b in $backends; do
  head -1 "$work/$b.log"
  curl -sf "http://127.0.0.1:${ports[$b]}/plain" > /dev/null
done
if [ "$with_nginx" = 1 ]; then
  master=$(cat "$work/nginx.pid"); pids[nginx]="$master $(pgrep -P "$master" | tr '\n' ' ')"; ports[nginx]=$nginx_port
  curl -sf "http://127.0.0.1:$nginx_port/plain" > /dev/null
  backends="$backends nginx"
fi

run_one() {  # name
  local name=$1 port=${ports[$1]} before after out reqs rps s0 s1 sys_per="n/a"
  # shellcheck disable=SC2086
  before=$(cpu_ns ${pids[$name]})
  [ "$name" != nginx ] && s0=$(curl -s "http://127.0.0.1:$port/stats")
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/plain")
  [ "$name" != nginx ] && s1=$(curl -s "http://127.0.0.1:$port/stats")
  # shellcheck disable=SC2086
  after=$(cpu_ns ${pids[$name]})
  reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  if [ "$name" != nginx ]; then
    local dr=$(( $(stat_field "$s1" requests) - $(stat_field "$s0" requests) ))
    local ds=$(( $(stat_field "$s1" syscalls) - $(stat_field "$s0" syscalls) ))
    sys_per=$(awk -v s="$ds" -v r="$dr" 'BEGIN {printf "%.2f", s / r}')
  fi
  local ns_per=$(( (after - before) / reqs ))
  echo "$name rps=$rps cpu_ns_per_req=$ns_per syscalls_per_req=$sys_per $errs"
  echo "$name $rps $ns_per $sys_per" >> "$work/results"
}

for name in $backends; do  # warm-up, not counted
  taskset -c 1 wrk -t1 -c"$conns" -d2s "http://127.0.0.1:${ports[$name]}/plain" > /dev/null
done
for ((r = 1; r <= rounds; r++)); do
  for name in $backends; do run_one "$name"; done
done

summarize() {  # results file
  echo "--- medians over $rounds rounds: ${secs}s, $conns connections, GET /plain, server on CPU 0 (one loop), wrk on CPU 1"
  printf '%-10s %12s %20s %18s\n' server requests/s "cpu ns/request" "syscalls/request"
  local name col
  for name in $backends; do
    # column 2: requests/s, 3: CPU ns per request, 4: system calls per request
    for col in 2 3 4; do
      awk -v n="$name" -v c="$col" '$1 == n {print $c}' "$1" | sort -g > "$work/col$col"
    done
    awk -v n="$name" 'FNR == 1 {f++} {v[f, FNR] = $1; cnt[f] = FNR}
      END {
        m = int((cnt[1] + 1) / 2)
        printf "%-10s %12.0f %8d (%d-%d) %18s   requests/s %.0f-%.0f\n", n, v[1, m], v[2, m], v[2, 1], v[2, cnt[2]], v[3, m], v[1, 1], v[1, cnt[1]]
      }' "$work/col2" "$work/col3" "$work/col4"
  done
}
summarize "$work/results"
