#!/usr/bin/env bash
# Two builds of c10k-server against each other: user and system CPU time per request under
# wrk (GET /plain, 64 keep-alive connections, one request per read or pipelined 16 deep), the
# server pinned to CPU 0 and wrk to CPU 1, the builds interleaved in every round so that the
# machine's drift hits both alike. What tells whether a change to the hot path made requests
# cheaper on a machine where one build's own CPU per request moves 30 % between runs: compare
# each round's pair, never two runs from different times.
#
#   bench/ab_cpu.sh BUILD_A BUILD_B [ROUNDS] [SECONDS] [plain|pipelined]
#   git worktree add /tmp/base HEAD~1 && cmake -S /tmp/base -B /tmp/base/build && \
#     cmake --build /tmp/base/build --target c10k-server && bench/ab_cpu.sh /tmp/base/build build 7 3
#
# Prints a line per run, then per backend and build the medians with min-max, and the median
# (min-max) of B's user time over A's, round by round.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
a=$1; b=$2; rounds=${3:-7}; secs=${4:-3}; mode=${5:-plain}
backends=${BACKENDS:-io_uring epoll}
need_tools wrk wrk
need_tools curl curl
hz=$(getconf CLK_TCK)
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
script=()
if [ "$mode" = pipelined ]; then
  printf '%s\n' 'init = function(args)' '  local r = {}' '  for i = 1, 16 do r[i] = wrk.format("GET", "/plain") end' \
    '  req = table.concat(r)' 'end' 'request = function() return req end' > "$work/pipeline.lua"
  script=(-s "$work/pipeline.lua")
fi

port=18600
for r in $(seq "$rounds"); do
  for backend in $backends; do
    for side in A B; do
      build=$a; [ "$side" = B ] && build=$b
      port=$((port + 1))
      taskset -c 0 "$build/examples/c10k-server" --port "$port" --threads 1 --backend "$backend" > /dev/null 2>&1 &
      pid=$!
      for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" > /dev/null && break; sleep 0.1; done
      taskset -c 1 wrk -t1 -c64 -d1s "${script[@]}" "http://127.0.0.1:$port/plain" > /dev/null  # warm-up
      read -r u0 s0 < <(cpu_ticks "$pid")
      out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "${script[@]}" "http://127.0.0.1:$port/plain")
      read -r u1 s1 < <(cpu_ticks "$pid")
      kill -INT "$pid"  # a graceful stop, bounded: a server that does not end in 2 s is killed
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
      n=$(awk '/requests in/ {print $1}' <<< "$out")
      line="round=$r $side $backend $mode requests=$n user_ns=$(( (u1 - u0) * 1000000000 / hz / n )) sys_ns=$(( (s1 - s0) * 1000000000 / hz / n ))"
      echo "$line"; echo "$line" >> "$work/results"
    done
  done
done

echo "--- medians (min-max) over $rounds rounds of ${secs}s, $mode; A=$a B=$b"
for backend in $backends; do
  for side in A B; do
    for col in user_ns sys_ns; do
      printf '%-9s %s %-8s %s\n' "$backend" "$side" "$col" "$(awk -v s="$side" -v k="$backend" -v c="$col=" \
        '$2 == s && $3 == k {for (i = 1; i <= NF; i++) if (index($i, c) == 1) print substr($i, length(c) + 1)}' "$work/results" | median)"
    done
  done
  printf '%-9s B/A user per round: %s\n' "$backend" "$(awk -v k="$backend" '$3 == k {split($1, r, "="); split($6, u, "="); v[r[2], $2] = u[2]; rs[r[2]] = 1}
    END {for (x in rs) if (v[x, "A"] > 0) printf "%.3f\n", v[x, "B"] / v[x, "A"]}' "$work/results" | median %.2f)"
done
