#!/usr/bin/env bash
# Static files on io_uring: the three ways a file body can reach the socket, measured side by
# side (C10K_IO_URING_FILE_PATH = sendfile | splice | readsend). Files of 1 KiB, 64 KiB and
# 1 MiB; each server on CPU 0 with one loop, wrk (one thread) on CPU 1; rounds interleaved.
#   bench/files.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
set -euo pipefail
build=${1:-build}; rounds=${2:-2}; secs=${3:-5}; conns=${4:-32}
paths="sendfile splice readsend"
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
head -c 1024 /dev/urandom > "$work/1k.bin"
head -c 65536 /dev/urandom > "$work/64k.bin"
head -c 1048576 /dev/urandom > "$work/1m.bin"

cpu_ns() {
  local total=0 f ns
  for f in /proc/"$1"/task/*/schedstat; do read -r ns _ < "$f" 2>/dev/null && total=$((total + ns)); done
  echo "$total"
}

declare -A pid port
p=18200
for m in $paths; do
  C10K_IO_URING_FILE_PATH=$m taskset -c 0 "$build/examples/c10k-server" --port $p --threads 1 --backend io_uring --root "$work" > /dev/null 2>&1 &
  pid[$m]=$!; port[$m]=$p; p=$((p + 1))
done
sleep 1
for m in $paths; do curl -sf "http://127.0.0.1:${port[$m]}/static/1k.bin" > /dev/null; done

for ((r = 0; r <= rounds; r++)); do  # round 0 warms up
  for f in 1k 64k 1m; do
    for m in $paths; do
      before=$(cpu_ns "${pid[$m]}")
      out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:${port[$m]}/static/$f.bin")
      after=$(cpu_ns "${pid[$m]}")
      reqs=$(awk '/requests in/ {print $1}' <<< "$out")
      rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
      errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
      [ "$r" = 0 ] && continue
      echo "$f $m rps=$rps cpu_ns_per_req=$(( (after - before) / reqs )) $errs"
      echo "$f $m $rps $(( (after - before) / reqs ))" >> "$work/results"
    done
  done
done
echo "--- medians over $rounds rounds (${secs}s, $conns connections, io_uring, server on CPU 0, wrk on CPU 1)"
printf '%-5s %-9s %12s %16s\n' file path requests/s "cpu ns/request"
for f in 1k 64k 1m; do
  for m in $paths; do
    awk -v f="$f" -v m="$m" '$1 == f && $2 == m {print $3, $4}' "$work/results" | sort -g > "$work/sel"
    awk -v f="$f" -v m="$m" '{r[NR] = $1; c[NR] = $2} END {mid = int((NR + 1) / 2); printf "%-5s %-9s %12.0f %16d\n", f, m, r[mid], c[mid]}' "$work/sel"
  done
done
