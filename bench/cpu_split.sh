#!/usr/bin/env bash
# User and system CPU time per request, apart: wrk (the external generator) against c10k, the
# callback reactor and nginx, GET /plain with 64 keep-alive connections, one request per read
# and pipelined 16 deep. Each server runs one loop pinned to CPU 0, wrk runs on CPU 1; rounds
# are interleaved across servers so drift hits all alike. utime and stime come from
# /proc/PID/stat (every thread, clock ticks), so the split is the kernel's own accounting.
#
#   bench/cpu_split.sh [BUILD_DIR] [ROUNDS] [SECONDS]
#   SERVERS="c10k-io_uring reactor-io_uring" MODES=plain bench/cpu_split.sh build 5 5
#
# Prints a line per run, then per server and mode the medians with min-max, and the ratios
# the connection issue sets as targets (each round's ratio against the same round's peer).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx_plain.sh"
build=${1:-build}; rounds=${2:-5}; secs=${3:-5}
servers=${SERVERS:-c10k-io_uring c10k-epoll reactor-io_uring reactor-epoll nginx}
modes=${MODES:-plain pipelined}
c10k_mode=${C10K_MODE:-coroutine}
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
hz=$(getconf CLK_TCK)


cat > "$work/pipeline.lua" <<'LUA'
-- 16 requests per write: wrk's own pipelining script, reduced to GET /plain.
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format("GET", "/plain") end
  req = table.concat(r)
end
request = function() return req end
LUA

declare -A pids ports
port=18300
for s in $servers; do
  port=$((port + 1)); ports[$s]=$port
  case $s in
    c10k-*) taskset -c 0 "$build/examples/c10k-server" --port "$port" --threads 1 --backend "${s#c10k-}" \
              --mode "$c10k_mode" --max-requests 0 --no-metrics --stall-threshold-ms 0 > "$work/$s.log" 2>&1 & pids[$s]=$! ;;
    reactor-*) taskset -c 0 "$build/bench/servers/c10k-reactor" --port "$port" --threads 1 --backend "${s#reactor-}" \
                 > "$work/$s.log" 2>&1 & pids[$s]=$! ;;
    nginx)
      start_nginx_plain "$work" "$port" ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
done
sleep 1
for s in $servers; do
  curl -sf "http://127.0.0.1:${ports[$s]}/plain" > /dev/null || { echo "$s does not answer" >&2; cat "$work/$s.log" >&2; exit 1; }
done
if [[ " $servers " == *" nginx "* ]]; then
  master=$(cat "$work/nginx.pid"); pids[nginx]="$master $(pgrep -P "$master" | tr '\n' ' ')"
fi

run_one() {  # server mode
  local s=$1 mode=$2 url="http://127.0.0.1:${ports[$1]}/plain" script=() out reqs rps u0 s0 u1 s1
  [ "$mode" = pipelined ] && script=(-s "$work/pipeline.lua")
  # shellcheck disable=SC2086
  read -r u0 s0 < <(cpu_ticks ${pids[$s]})
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "${script[@]}" "$url")
  # shellcheck disable=SC2086
  read -r u1 s1 < <(cpu_ticks ${pids[$s]})
  reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  local user_ns=$(( (u1 - u0) * 1000000000 / hz / reqs )) sys_ns=$(( (s1 - s0) * 1000000000 / hz / reqs ))
  echo "round=$r $s $mode rps=$rps user_ns=$user_ns sys_ns=$sys_ns cpu_ns=$((user_ns + sys_ns)) $errs"
  echo "$r $s $mode $rps $user_ns $sys_ns $((user_ns + sys_ns))" >> "$work/results"
}

for s in $servers; do  # warm-up, not counted
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$s]}/plain" > /dev/null
done
for ((r = 1; r <= rounds; r++)); do
  for mode in $modes; do
    for s in $servers; do run_one "$s" "$mode"; done
  done
done

echo "--- medians (min-max) over $rounds rounds of ${secs}s; 64 connections; server on CPU 0, wrk on CPU 1"
printf '%-18s %-10s %22s %20s %20s %20s\n' server mode requests/s "user ns/req" "sys ns/req" "cpu ns/req"
for mode in $modes; do
  for s in $servers; do
    line=$(printf '%-18s %-10s' "$s" "$mode")
    for col in 4 5 6 7; do
      line="$line $(printf '%20s' "$(awk -v s="$s" -v m="$mode" -v c="$col" '$2 == s && $3 == m {print $c}' "$work/results" | median)")"
    done
    echo "$line"
  done
done

# Per-round ratios: a target is met only when every round meets it.
ratio() {  # mode col a b -> "median (min-max)" of a/b per round
  awk -v m="$1" -v c="$2" -v a="$3" -v b="$4" '$3 == m && $2 == a {x[$1] = $c} $3 == m && $2 == b {y[$1] = $c}
    END {for (r in x) if (r in y && y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$work/results" | median %.2f
}
echo "--- per-round ratios, median (min-max)"
for b in io_uring epoll; do
  if [[ " $servers " == *" c10k-$b "* && " $servers " == *" nginx "* && " $modes " == *" plain "* ]]; then
    echo "plain: c10k-$b cpu/req vs nginx: $(ratio plain 7 "c10k-$b" nginx)  (target <= 0.85)"
  fi
  if [[ " $servers " == *" c10k-$b "* && " $servers " == *" reactor-$b "* ]]; then
    [[ " $modes " == *" plain "* ]] && echo "plain: c10k-$b user/req vs reactor-$b: $(ratio plain 5 "c10k-$b" "reactor-$b")  (target <= 2)"
    [[ " $modes " == *" pipelined "* ]] && echo "pipelined: c10k-$b req/s vs reactor-$b: $(ratio pipelined 4 "c10k-$b" "reactor-$b")  (target >= 0.9)"
  fi
done
