#!/usr/bin/env bash
# What observability costs: CPU time per request for GET /plain against c10k-server without
# metrics (--no-metrics), with metrics (its default), and with metrics and --access-log to a
# file, and against nginx with its access log off and on (to a file). 64 keep-alive
# connections; each server runs one loop (one worker) pinned to CPU 0, wrk runs on CPU 1;
# rounds are interleaved across servers so drift hits all alike. CPU time comes from
# /proc/PID/stat (every thread: the access-log writer's too).
#
#   bench/observability.sh [BUILD_DIR] [ROUNDS] [SECONDS]
#
# Prints a line per run, then per server the medians with min-max, then per-round ratios: the
# metrics' cost (goal <= 1.02) and the access log's cost, c10k's beside nginx's (goal: c10k's
# at most nginx's). c10k-server runs with its stall watchdog on (its default) in every case.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx_plain.sh"
build=${1:-build}; rounds=${2:-5}; secs=${3:-5}
servers="c10k-nometrics c10k-metrics c10k-metrics-log nginx-log-off nginx-log-on"
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
hz=$(getconf CLK_TCK)


declare -A pids ports
port=18400
for s in $servers; do
  port=$((port + 1)); ports[$s]=$port
  c10k=(taskset -c 0 "$build/examples/c10k-server" --port "$port" --threads 1 --backend epoll --max-requests 0)
  case $s in
    c10k-nometrics) "${c10k[@]}" --no-metrics > "$work/$s.log" 2>&1 & pids[$s]=$! ;;
    c10k-metrics) "${c10k[@]}" > "$work/$s.log" 2>&1 & pids[$s]=$! ;;
    c10k-metrics-log) "${c10k[@]}" --access-log "$work/c10k-access.log" > "$work/$s.log" 2>&1 & pids[$s]=$! ;;
    nginx-log-off) mkdir -p "$work/$s"; start_nginx_plain "$work/$s" "$port" ;;
    nginx-log-on) mkdir -p "$work/$s"; start_nginx_plain "$work/$s" "$port" "$work/nginx-access.log" ;;
  esac
done
sleep 1
for s in $servers; do
  curl -sf "http://127.0.0.1:${ports[$s]}/plain" > /dev/null || { echo "$s does not answer" >&2; cat "$work/$s.log" "$work/$s/error.log" 2>/dev/null >&2; exit 1; }
  if [[ $s == nginx-* ]]; then
    master=$(cat "$work/$s/nginx.pid"); pids[$s]="$master $(pgrep -P "$master" | tr '\n' ' ')"
  fi
done

run_one() {  # server
  local s=$1 url="http://127.0.0.1:${ports[$1]}/plain" out reqs rps u0 s0 u1 s1
  # shellcheck disable=SC2086
  read -r u0 s0 < <(cpu_ticks ${pids[$s]})
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "$url")
  # shellcheck disable=SC2086
  read -r u1 s1 < <(cpu_ticks ${pids[$s]})
  reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  local user_ns=$(( (u1 - u0) * 1000000000 / hz / reqs )) sys_ns=$(( (s1 - s0) * 1000000000 / hz / reqs ))
  echo "round=$r $s rps=$rps user_ns=$user_ns sys_ns=$sys_ns cpu_ns=$((user_ns + sys_ns)) $errs"
  echo "$r $s plain $rps $user_ns $sys_ns $((user_ns + sys_ns))" >> "$work/results"
}

for s in $servers; do  # warm-up, not counted
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$s]}/plain" > /dev/null
done
for ((r = 1; r <= rounds; r++)); do
  for s in $servers; do run_one "$s"; done
done

echo "--- medians (min-max) over $rounds rounds of ${secs}s; GET /plain, 64 connections; server on CPU 0, wrk on CPU 1"
printf '%-18s %22s %20s %20s %20s\n' server requests/s "user ns/req" "sys ns/req" "cpu ns/req"
for s in $servers; do
  line=$(printf '%-18s' "$s")
  for col in 4 5 6 7; do
    line="$line $(printf '%20s' "$(awk -v s="$s" -v c="$col" '$2 == s {print $c}' "$work/results" | median)")"
  done
  echo "$line"
done

ratio() {  # col a b -> "median (min-max)" of a/b per round
  awk -v c="$1" -v a="$2" -v b="$3" '$2 == a {x[$1] = $c} $2 == b {y[$1] = $c}
    END {for (r in x) if (r in y && y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$work/results" | median %.3f
}
echo "--- per-round cpu/req ratios, median (min-max)"
echo "metrics cost:     c10k-metrics     / c10k-nometrics: $(ratio 7 c10k-metrics c10k-nometrics)  (goal <= 1.02)"
echo "access log cost:  c10k-metrics-log / c10k-nometrics: $(ratio 7 c10k-metrics-log c10k-nometrics)"
echo "                  nginx-log-on     / nginx-log-off:  $(ratio 7 nginx-log-on nginx-log-off)  (goal: c10k's <= nginx's)"
echo "log lines written: c10k $(wc -l < "$work/c10k-access.log"), nginx $(wc -l < "$work/nginx-access.log")"
